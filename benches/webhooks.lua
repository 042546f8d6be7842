-- wrk script of benches/webhooks.py: POST /v1/webhooks/stripe with pre-signed Stripe events.
--
--   wrk -t1 -c64 -d20s --latency -s benches/webhooks.lua http://127.0.0.1:PORT -- EVENTS_FILE ACKED_FILE [THREADS]
--
-- EVENTS_FILE: one event a line, "<Stripe-Signature>\t<raw JSON body>" (written by benches/webhooks.py right before
-- the run: signatures are valid 300 s). Each request sends the next event; every event is sent once. When the file
-- has only one line, that same signed body is sent every time (the duplicates run).
-- ACKED_FILE (written by done()): the event ids answered 200 with "duplicate":false, one a line, then summary lines
-- "BENCH-STATUS <status> <count>", "BENCH-DUPLICATE <count>", "BENCH-SENT <count>", "BENCH-EXHAUSTED <count>" (also
-- printed on stdout).

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local events_file = args[1]
  acked_path = args[2] or ""
  requests = {}
  for line in io.lines(events_file) do
    local tab = line:find("\t", 1, true)
    local headers = {}
    headers["Content-Type"] = "application/json"
    headers["Stripe-Signature"] = line:sub(1, tab - 1)
    requests[#requests + 1] = wrk.format("POST", "/v1/webhooks/stripe", headers, line:sub(tab + 1))
  end
  cycle = #requests == 1
  -- threads share the file: thread t sends lines t, t + n, t + 2n... (n = args[3] threads, default 1), so no
  -- event is sent twice
  step = tonumber(args[3] or "1")
  nxt = tid or 1
  sent = 0
  exhausted = 0
  counts = {}
  acked = {}
  duplicates = 0
end

function request()
  sent = sent + 1
  if cycle then
    return requests[1]
  end
  local i = nxt
  if i > #requests then
    -- out of fresh events: the measured run was too long for the file; counted, and the bench refuses the figure
    exhausted = exhausted + 1
    i = #requests
  else
    nxt = nxt + step
  end
  return requests[i]
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status == 200 then
    if body:find('"duplicate":true', 1, true) then
      duplicates = duplicates + 1
    else
      local id = body:match('"event_id":"([^"]+)"')
      if id then
        acked[#acked + 1] = id
      end
    end
  end
end

function done(summary, latency, reqs)
  local total, dup, sent_all, out_of_events, path = {}, 0, 0, 0, ""
  local lines = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do
      total[k] = (total[k] or 0) + v
    end
    dup = dup + t:get("duplicates")
    sent_all = sent_all + t:get("sent")
    out_of_events = out_of_events + t:get("exhausted")
    path = t:get("acked_path")
    for _, id in ipairs(t:get("acked")) do
      lines[#lines + 1] = id
    end
  end
  local summary_lines = {}
  for k, v in pairs(total) do
    summary_lines[#summary_lines + 1] = "BENCH-STATUS " .. k .. " " .. v
  end
  summary_lines[#summary_lines + 1] = "BENCH-DUPLICATE " .. dup
  summary_lines[#summary_lines + 1] = "BENCH-SENT " .. sent_all
  summary_lines[#summary_lines + 1] = "BENCH-EXHAUSTED " .. out_of_events
  for _, line in ipairs(summary_lines) do
    print(line)
  end
  if path ~= "" then
    local f = assert(io.open(path, "w"))
    for _, id in ipairs(lines) do
      f:write(id, "\n")
    end
    for _, line in ipairs(summary_lines) do
      f:write(line, "\n")
    end
    f:close()
  end
end
