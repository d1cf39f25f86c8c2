-- Who holds a token (its principal: a person) and which token minted it. The two-person
-- rule compares principals: an override is approved by another person, not merely another
-- token. A token minted through the API belongs to its minter's principal unless the
-- minter names another person (audited). Tokens made before this migration each count as
-- their own principal (their minter was not recorded).
ALTER TABLE api_tokens ADD COLUMN principal TEXT;
ALTER TABLE api_tokens ADD COLUMN minted_by TEXT;
UPDATE api_tokens SET principal = 'token:' || id WHERE principal IS NULL;
