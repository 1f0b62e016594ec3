-- REST callers of an unavailable upstream get the seed's JSON error body instead of the
-- transcoder's google.rpc.Status. gRPC and gRPC-Web callers keep grpc-status UNAVAILABLE.
function envoy_on_request(request_handle)
  local content_type = request_handle:headers():get("content-type") or ""
  if string.find(content_type, "application/grpc", 1, true) ~= 1 then
    request_handle:streamInfo():dynamicMetadata():set(
      "trading.rest", "path", request_handle:headers():get(":path") or "")
  end
end

function envoy_on_response(response_handle)
  if response_handle:headers():get(":status") ~= "503" then
    return
  end
  local rest = response_handle:streamInfo():dynamicMetadata():get("trading.rest")
  if rest == nil then
    return
  end
  local service = "Service"
  for _, prefix in ipairs(ML_PATH_PREFIXES) do
    if string.find(rest["path"], prefix, 1, true) == 1 then
      service = "ML service"
    end
  end
  local body = '{"error": "' .. service .. ' unavailable", "message": "Please try again later"}'
  response_handle:body(true):setBytes(body)
  response_handle:headers():replace("content-type", "application/json")
end
