-- error() with a non-string value, level 0 (no position).
error({ code = 1 })
