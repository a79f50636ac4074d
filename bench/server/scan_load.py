#!/usr/bin/env python3
"""Scan-upload load: C keep-alive connections each POSTing /v1/scan as multipart (context JSON
+ the JPEG) for S seconds. The image matches no bank, so the answer is `deliver` and nothing is
written: what is measured is receiving, decoding and hashing the upload (PDQ, 8 dihedral,
border trim, MD5, SHA-256). (wrk 4.1 with a Lua multipart body sent nothing here, hence Python.)

usage: scan_load.py BASE_URL TOKEN IMAGE [CONNECTIONS=4] [SECONDS=15]
"""
import http.client, json, sys, threading, time, urllib.parse

base, token, image = sys.argv[1], sys.argv[2], sys.argv[3]
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 4
secs = float(sys.argv[5]) if len(sys.argv) > 5 else 15
u = urllib.parse.urlparse(base)
img = open(image, "rb").read()
b = "candorbenchboundary"
ctx = json.dumps({"surface": "direct", "content_id": "bench-1", "content_type": "CONTENT_TYPE_IMAGE",
                  "sender": {"account": "s1", "jurisdiction": "FR"},
                  "recipients": [{"account": "r1", "jurisdiction": "DE"}]})
body = (f"--{b}\r\nContent-Disposition: form-data; name=\"context\"\r\n\r\n{ctx}\r\n"
        f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n").encode() + img + f"\r\n--{b}--\r\n".encode()
headers = {"Content-Type": f"multipart/form-data; boundary={b}", "Authorization": f"Bearer {token}"}
lat, bad, lock = [], [0], threading.Lock()
end = time.monotonic() + secs

def worker():
    c = http.client.HTTPConnection(u.hostname, u.port)
    mine = []
    while time.monotonic() < end:
        t = time.monotonic()
        c.request("POST", "/v1/scan", body, headers)
        r = c.getresponse()
        data = r.read()
        mine.append(time.monotonic() - t)
        if r.status != 200 or b'"deliver"' not in data:
            with lock:
                bad[0] += 1
    with lock:
        lat.extend(mine)

start = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
el = time.monotonic() - start
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
print(f"RESULT scans={len(lat)} seconds={el:.2f} rps={len(lat)/el:.1f} p50_ms={p(.5):.1f} p99_ms={p(.99):.1f} "
      f"not_ok={bad[0]} connections={conns} image_bytes={len(img)}")
