-- Spec 002 limits what is recorded per request to, among others, the client's operating system and
-- browser: the raw user agent string is only the input they are parsed from, so it is no longer kept.
ALTER TABLE platform.api_requests DROP COLUMN IF EXISTS user_agent;

-- IP addresses are now stored in one canonical spelling (lower-case, as Python's ipaddress writes them)
-- and filters are normalised the same way; lower-case what was stored before, so 2001:DB8::1 matches.
UPDATE platform.api_requests SET ip_address = lower(ip_address) WHERE ip_address <> lower(ip_address);
