-- A service's error, to a REST caller, in the edge's one error envelope:
--   {"error": "<stable code>", "message": "...", "details": [...], "request_id": "..."}
-- The transcoder turns a failed call into google.rpc.Status JSON, printed without whitespace and
-- with every field, in field order: {"code":3,"message":"...","details":[...]}. Its code becomes
-- the envelope's `error` (GRPC_CODES), its message and details (BadRequest field violations,
-- RetryInfo, ...) are kept, and UNAVAILABLE reads as the seed's "ML service unavailable" /
-- "Service unavailable", "Please try again later". The code also goes out as the grpc-status
-- header, so that the access log records the service's status rather than one guessed from the
-- HTTP status. Envoy's own replies (listener.py) and the gateway's are in the envelope already;
-- gRPC and gRPC-Web callers are left alone. On the way in, header names gRPC metadata cannot
-- carry are dropped (drop_non_grpc_headers).
-- ML_PATH_PREFIXES and GRPC_CODES are set above this text by envoy/http_filters.py.

-- gRPC metadata keys are lower-case letters, digits, "_", "-" and "."; a request header with any
-- other name (legal in HTTP: "a+b", "x|y") would make the service refuse the whole call, INTERNAL
-- "Illegal header key". No such header means anything here: it is dropped before it goes on.
local function drop_non_grpc_headers(headers)
  local illegal = {}
  for key, _ in pairs(headers) do
    if string.sub(key, 1, 1) ~= ":" and string.find(key, "^[0-9a-z_.%-]+$") == nil then
      table.insert(illegal, key)
    end
  end
  for _, key in ipairs(illegal) do
    headers:remove(key)
  end
end

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  drop_non_grpc_headers(headers)
  local content_type = headers:get("content-type") or ""
  if string.find(content_type, "application/grpc", 1, true) ~= 1 then
    local metadata = request_handle:streamInfo():dynamicMetadata()
    metadata:set("trading.rest", "path", headers:get(":path") or "")
    metadata:set("trading.rest", "request_id", headers:get("x-request-id") or "")
  end
end

-- code, message (a JSON string literal) and details (a JSON array) of a google.rpc.Status body;
-- nil for any other body. Inside the message every quote is escaped, so the first ',"details":'
-- is where the message ends.
local function parse_status(text)
  local code, rest = string.match(text, '^{"code":(%d+),"message":(".*)}$')
  if code == nil then
    return nil
  end
  local cut = string.find(rest, ',"details":[', 1, true)
  if cut == nil then
    return nil
  end
  return tonumber(code), string.sub(rest, 1, cut - 1), string.sub(rest, cut + 11)
end

local function service_name(path)
  for _, prefix in ipairs(ML_PATH_PREFIXES) do
    if string.find(path, prefix, 1, true) == 1 then
      return "ML service"
    end
  end
  return "Service"
end

function envoy_on_response(response_handle)
  local rest = response_handle:streamInfo():dynamicMetadata():get("trading.rest")
  local headers = response_handle:headers()
  if rest == nil or tonumber(headers:get(":status")) < 400 then
    return
  end
  local content_type = headers:get("content-type") or ""
  if string.find(content_type, "application/json", 1, true) ~= 1 then
    return
  end
  local body = response_handle:body(true)
  local code, message, details = parse_status(body:getBytes(0, body:length()))
  if code == nil then
    return
  end
  local error = '"' .. (GRPC_CODES[code] or "unknown") .. '"'
  if code == 14 then
    error = '"' .. service_name(rest["path"]) .. ' unavailable"'
    message = '"Please try again later"'
  end
  body:setBytes('{"error":' .. error .. ',"message":' .. message .. ',"details":' .. details
    .. ',"request_id":"' .. rest["request_id"] .. '"}')
  response_handle:headers():replace("grpc-status", tostring(code))
end
