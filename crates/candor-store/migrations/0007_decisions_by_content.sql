-- Decisions found by the platform's content id (`GET /v1/decisions?puid=`, the console's search).
CREATE INDEX decisions_puid ON decisions(puid, created_at);
