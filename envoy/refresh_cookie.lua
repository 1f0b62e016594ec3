-- The refresh token of a browser in an httpOnly cookie (docs/identity.md, "The refresh cookie").
--
-- On AuthService's sign-in, Refresh and Logout routes (gRPC-Web and REST paths: ENDPOINTS), a call
-- that asks for it with `x-refresh-cookie: 1` from an allowed Origin (ORIGINS) is in cookie mode:
--   request:  the edge tells business so (x-refresh-cookie: 1) and, for Refresh and Logout, hands
--             it the cookie's token (x-refresh-token); the cookie header itself goes no further;
--   response: business answered the new token in x-refresh-token (the message's field is empty);
--             the edge turns it into Set-Cookie on each of COOKIE_PATHS and drops the header;
--             Logout expires the cookie.
-- Any other call (curl, gRPC, no or another Origin) has both headers removed, so it keeps the
-- token in the message, and a cross-site page can neither send the cookie (SameSite=Strict, and
-- no allowed Origin) nor add the header without a CORS preflight that names an allowed origin.
-- Cookie name: __Secure-refresh with Secure for an https:// origin, `refresh` on plain http
-- (local runs), where browsers refuse the __Secure- prefix.
-- ENDPOINTS, ORIGINS, COOKIE_PATHS are set above this text by envoy/refresh_cookie.py.

local MODE_HEADER = "x-refresh-cookie"
local TOKEN_HEADER = "x-refresh-token"
local MAX_AGE_HEADER = "x-refresh-max-age"
local METADATA = "trading.refresh_cookie"

local function cookie_value(header, name)
  if header == nil then
    return nil
  end
  for pair in string.gmatch(header, "[^;]+") do
    local key, value = string.match(pair, "^%s*([^=%s]+)%s*=%s*([^%s]*)%s*$")
    if key == name and value ~= "" then
      return value
    end
  end
  return nil
end

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  local endpoint = ENDPOINTS[string.match(headers:get(":path") or "", "^[^?]*")]
  if endpoint == nil then
    return
  end
  local asked = headers:get(MODE_HEADER) == "1"
  headers:remove(MODE_HEADER)
  headers:remove(TOKEN_HEADER)
  local origin = headers:get("origin")
  if not asked or origin == nil or not ORIGINS[origin] then
    return
  end
  local name = "refresh"
  local secure = ""
  if string.sub(origin, 1, 8) == "https://" then
    name = "__Secure-refresh"
    secure = "; Secure"
  end
  headers:add(MODE_HEADER, "1")
  if endpoint ~= "sign_in" then
    local token = cookie_value(headers:get("cookie"), name)
    if token ~= nil then
      headers:add(TOKEN_HEADER, token)
    end
  end
  headers:remove("cookie")
  local metadata = request_handle:streamInfo():dynamicMetadata()
  metadata:set(METADATA, "endpoint", endpoint)
  metadata:set(METADATA, "name", name)
  metadata:set(METADATA, "secure", secure)
end

local function set_cookie(headers, cookie, value, max_age)
  for _, path in ipairs(COOKIE_PATHS) do
    headers:add("set-cookie", cookie["name"] .. "=" .. value .. "; Path=" .. path .. "; Max-Age=" .. max_age
      .. "; HttpOnly; SameSite=Strict" .. cookie["secure"])
  end
end

function envoy_on_response(response_handle)
  local cookie = response_handle:streamInfo():dynamicMetadata():get(METADATA)
  if cookie == nil then
    return
  end
  local headers = response_handle:headers()
  local token = headers:get(TOKEN_HEADER)
  local max_age = tonumber(headers:get(MAX_AGE_HEADER) or "")
  headers:remove(TOKEN_HEADER)
  headers:remove(MAX_AGE_HEADER)
  headers:replace("cache-control", "no-store")
  if token ~= nil and max_age ~= nil and string.match(token, "^[%w%-_%.~]+$") then
    set_cookie(headers, cookie, token, math.floor(max_age))
  elseif cookie["endpoint"] == "logout" then
    set_cookie(headers, cookie, "", 0)
  end
end
