-- Craft's `vector`: three-dimensional vectors with arithmetic operators (CC:Tweaked's vector).
--
-- Loaded by the BIOS with (expect), cc.expect's; returns the `vector` table.

local expect = ...
local getmetatable, setmetatable, type, sqrt, floor, tostring = getmetatable, setmetatable, type, math.sqrt, math.floor, tostring

local vector = {}
local methods = {}
local meta = { __index = methods, __name = "vector" }

local function new(x, y, z)
    return setmetatable({ x = x or 0, y = y or 0, z = z or 0 }, meta)
end

-- A vector argument; anything else raises "vector expected".
local function want(index, v)
    if getmetatable(v) ~= meta then expect(index, v, "vector") end
    return v
end

function methods.add(a, b)
    want(1, a)
    want(2, b)
    return new(a.x + b.x, a.y + b.y, a.z + b.z)
end

function methods.sub(a, b)
    want(1, a)
    want(2, b)
    return new(a.x - b.x, a.y - b.y, a.z - b.z)
end

function methods.mul(a, m)
    if type(a) == "number" then a, m = m, a end
    want(1, a)
    if type(m) == "number" then return new(a.x * m, a.y * m, a.z * m) end
    if getmetatable(m) ~= meta then expect(2, m, "number", "vector") end
    return new(a.x * m.x, a.y * m.y, a.z * m.z)
end

function methods.div(a, m)
    want(1, a)
    if type(m) == "number" then return new(a.x / m, a.y / m, a.z / m) end
    if getmetatable(m) ~= meta then expect(2, m, "number", "vector") end
    return new(a.x / m.x, a.y / m.y, a.z / m.z)
end

function methods.unm(a)
    want(1, a)
    return new(-a.x, -a.y, -a.z)
end

function methods.dot(a, b)
    want(1, a)
    want(2, b)
    return a.x * b.x + a.y * b.y + a.z * b.z
end

function methods.cross(a, b)
    want(1, a)
    want(2, b)
    return new(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
end

function methods.length(a)
    want(1, a)
    return sqrt(a.x * a.x + a.y * a.y + a.z * a.z)
end

function methods.normalize(a)
    return a:div(a:length())
end

function methods.round(a, tolerance)
    want(1, a)
    expect(2, tolerance, "number", "nil")
    tolerance = tolerance or 1.0
    local function r(c) return floor((c + tolerance * 0.5) / tolerance) * tolerance end
    return new(r(a.x), r(a.y), r(a.z))
end

function methods.tostring(a)
    want(1, a)
    return tostring(a.x) .. "," .. tostring(a.y) .. "," .. tostring(a.z)
end

function methods.equals(a, b)
    want(1, a)
    want(2, b)
    return a.x == b.x and a.y == b.y and a.z == b.z
end

meta.__add, meta.__sub, meta.__mul, meta.__div = methods.add, methods.sub, methods.mul, methods.div
meta.__unm, meta.__tostring, meta.__eq = methods.unm, methods.tostring, methods.equals

function vector.new(x, y, z)
    expect(1, x, "number", "nil")
    expect(2, y, "number", "nil")
    expect(3, z, "number", "nil")
    return new(x, y, z)
end

return vector
