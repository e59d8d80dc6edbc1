-- wrk: POST a 1 KiB JSON request (the layer benches' request body).
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"client_id":"CLIENT-001","product":"Real-Time Payments","notes":"' .. string.rep("n", 940) .. '"}'
