-- wrk script: GET /v1/lookup?pdq=<hex> (or, with ROUTE=hma, HMA's
-- GET /m/lookup?signal_type=pdq&signal=<hex>), rotating over the needles (NEEDLES file), with
-- the platform token (CANDOR_TOKEN). Prints one RESULT line at the end.
local token = os.getenv("CANDOR_TOKEN")
local needles = {}
for line in io.lines(os.getenv("NEEDLES")) do
  local h = line:match("^%s*(%x+)%s*$")
  if h and #h == 64 then needles[#needles + 1] = h end
end
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token }
local prefix = "/v1/lookup?pdq="
if os.getenv("ROUTE") == "hma" then prefix = "/m/lookup?signal_type=pdq&signal=" end

request = function()
  i = i + 1
  return wrk.format("GET", prefix .. needles[(i % #needles) + 1], headers)
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
