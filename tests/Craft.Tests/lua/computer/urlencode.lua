-- textutils.urlEncode: letters, digits and -_. stay; space becomes +; everything else %XX.
print(textutils.urlEncode("abc XYZ 019 -_."))
print(textutils.urlEncode("a&b=c/d?e#f%g+h~i"))
print(textutils.urlEncode("line\nbreak"))
-- Bytes above 127 are taken as Latin-1 and written as UTF-8, as CraftOS does.
print(textutils.urlEncode("\233"))
print(textutils.urlEncode(""))
print(pcall(textutils.urlEncode, nil))
