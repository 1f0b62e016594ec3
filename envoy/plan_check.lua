-- The plan check at the edge (zero trust, both: every service checks again). After jwt_authn,
-- whose verified payload is in the dynamic metadata (payload_in_metadata), an RPC whose access
-- rule lists plans is refused with 403 / PERMISSION_DENIED naming the plan it needs when the
-- token's `plan` claim is not among them, unless the token has a role no plan check applies to
-- (admin, service). By now a REST call's :path is its gRPC method (the transcoder ran first).
-- PLAN_RULES (gRPC path -> plans), PLAN_DETAILS (gRPC path -> the `details` field, as encoded on
-- the wire, of the google.rpc.Status sent as grpc-status-details-bin: ErrorInfo PLAN_REQUIRED
-- naming the plan, for gRPC and gRPC-Web clients) and EXEMPT_ROLES are set above this text by
-- envoy/http_filters.py, from the same access rules as the JWT rules.

-- A protobuf varint (a length).
local function varint(n)
  local out = ""
  while n >= 128 do
    out = out .. string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  return out .. string.char(n)
end

local function token_payload(request_handle)
  local jwt = request_handle:streamInfo():dynamicMetadata():get("envoy.filters.http.jwt_authn")
  if jwt == nil or type(jwt["jwt_payload"]) ~= "table" then
    return {}
  end
  return jwt["jwt_payload"]
end

local function exempt(payload)
  if type(payload["roles"]) ~= "table" then
    return false
  end
  for _, role in ipairs(payload["roles"]) do
    if EXEMPT_ROLES[role] then
      return true
    end
  end
  return false
end

function envoy_on_request(request_handle)
  local path = request_handle:headers():get(":path") or ""
  local method = string.match(path, "^[^?]*")
  local plans = PLAN_RULES[method]
  if plans == nil then
    return
  end
  local payload = token_payload(request_handle)
  local plan = ""
  if type(payload["plan"]) == "string" then
    plan = payload["plan"]
  end
  for _, allowed in ipairs(plans) do
    if plan == allowed then
      return
    end
  end
  if exempt(payload) then
    return
  end
  local shown = plan
  if shown == "" then
    shown = "none"
  end
  local message = "requires plan " .. table.concat(plans, " or ") .. " (this token's plan: " .. shown .. ")"
  -- google.rpc.Status {code: 7 (PERMISSION_DENIED), message, details}: its message must be the
  -- call's grpc-message, so it is built here rather than rendered.
  local status = "\8\7\18" .. varint(#message) .. message .. PLAN_DETAILS[method]
  request_handle:respond(
    { [":status"] = "403", ["grpc-status-details-bin"] = request_handle:base64Escape(status) },
    message
  )
end
