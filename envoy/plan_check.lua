-- The plan check at the edge (zero trust, both: every service checks again). After jwt_authn,
-- whose verified payload is in the dynamic metadata (payload_in_metadata), an RPC whose access
-- rule lists plans is refused with 403 / PERMISSION_DENIED naming the plan it needs when the
-- token's `plan` claim is not among them. By now a REST call's :path is its gRPC method (the
-- transcoder ran first). PLAN_RULES (gRPC path -> plans) is set above this text by
-- envoy/http_filters.py, from the same access rules as the JWT rules.

local function token_plan(request_handle)
  local jwt = request_handle:streamInfo():dynamicMetadata():get("envoy.filters.http.jwt_authn")
  if jwt == nil or jwt["jwt_payload"] == nil or type(jwt["jwt_payload"]["plan"]) ~= "string" then
    return ""
  end
  return jwt["jwt_payload"]["plan"]
end

function envoy_on_request(request_handle)
  local path = request_handle:headers():get(":path") or ""
  local plans = PLAN_RULES[string.match(path, "^[^?]*")]
  if plans == nil then
    return
  end
  local plan = token_plan(request_handle)
  for _, allowed in ipairs(plans) do
    if plan == allowed then
      return
    end
  end
  local shown = plan
  if shown == "" then
    shown = "none"
  end
  request_handle:respond(
    { [":status"] = "403" },
    "requires plan " .. table.concat(plans, " or ") .. " (this token's plan: " .. shown .. ")"
  )
end
