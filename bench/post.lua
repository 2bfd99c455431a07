-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST the body in $BENCH_BODY (a file) with optional bearer key, and the extra
-- headers of $BENCH_HEADERS ("Name: value" pairs separated by "|"; the Portkey peer's).
local f = assert(io.open(os.getenv("BENCH_BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^|:]+):%s*([^|]*)") do
  wrk.headers[name] = value
end
