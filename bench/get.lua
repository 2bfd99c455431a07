-- SPDX-License-Identifier: Apache-2.0
-- wrk script: GET with an optional bearer key.
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
