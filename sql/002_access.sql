-- SPDX-License-Identifier: Apache-2.0
-- 002_access.sql: who the callers are and what they may see.
--
-- principals and principal_attributes hold the attributes (roles, teams,
-- projects, namespaces) that stackgate adds to whatever the auth service in
-- front of it sent; api_keys holds stackgate's own bearer keys, hashed.
-- sg_acl_check() is the SQL twin of acl_check() in src/acl.c (the seed's
-- check_access, llama-stack-api.md §3.3; src/acl.h explains the truthiness
-- rules), and principal_visible_resources answers "what can alice see?" in
-- one query.  Every change to these tables notifies stackgate_registry with
-- the payload 'principal:<name>' so every process drops what it cached about
-- that principal.

-- The text elements of a JSON array; '{}' for anything that is not an array.
-- Non-string elements are skipped (the C side rejects them before it gets here).
CREATE FUNCTION sg_jsonb_text_array(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN jsonb_typeof(j) = 'array' THEN
		ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(j) AS e WHERE jsonb_typeof(e) = 'string')
	ELSE '{}'::text[] END
$$;

-- True when a caller's attributes (the dict of the seed) are truthy: an
-- object with at least one of the four categories as an array (even []).
-- NULL, '{}', {"roles": null} and unknown keys only are "no attributes".
CREATE FUNCTION sg_attrs_present(caller jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(jsonb_typeof(caller) = 'object' AND EXISTS (
		SELECT 1 FROM jsonb_each(caller) AS e(k, v)
		WHERE e.k IN ('roles', 'teams', 'projects', 'namespaces') AND jsonb_typeof(e.v) = 'array'), false)
$$;

-- The access decision for one object and one caller.
--   has_acl false: the object has no ACL: everyone sees it.  (has_acl NULL is
--     treated as true, so a damaged row fails closed.)
--   a category NULL: not required; '{}' (empty array): nobody qualifies.
--   caller NULL or '{}': no attributes: only objects without an ACL.
-- AND across the required categories, OR within one.
CREATE FUNCTION sg_acl_check(has_acl boolean, roles text[], teams text[], projects text[], namespaces text[],
			     caller jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN has_acl IS FALSE THEN true
		WHEN NOT sg_attrs_present(caller) THEN false
		ELSE (roles IS NULL OR roles && sg_jsonb_text_array(caller -> 'roles'))
		 AND (teams IS NULL OR teams && sg_jsonb_text_array(caller -> 'teams'))
		 AND (projects IS NULL OR projects && sg_jsonb_text_array(caller -> 'projects'))
		 AND (namespaces IS NULL OR namespaces && sg_jsonb_text_array(caller -> 'namespaces'))
	END
$$;

CREATE TABLE principals (
	name text PRIMARY KEY
		CHECK (length(name) BETWEEN 1 AND 256 AND name !~ '[[:cntrl:]]' AND name = btrim(name)),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	disabled boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE principals IS
	'Callers known to stackgate (API-key owners, or names an auth service sends) with extra attributes';

CREATE TABLE principal_attributes (
	principal text NOT NULL REFERENCES principals (name) ON DELETE CASCADE ON UPDATE CASCADE,
	category text NOT NULL CHECK (category IN ('roles', 'teams', 'projects', 'namespaces')),
	value text NOT NULL CHECK (length(value) BETWEEN 1 AND 256 AND value !~ '[[:cntrl:]]'),
	PRIMARY KEY (principal, category, value)
);
COMMENT ON TABLE principal_attributes IS
	'Attributes added to a principal''s own: the caller''s set is the union with what the auth service sent';

-- Keys look like sg-<key_id>-<secret>; only the SHA-256 of the whole key text is kept.
CREATE TABLE api_keys (
	key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{12}$'),
	principal text NOT NULL REFERENCES principals (name) ON DELETE CASCADE ON UPDATE CASCADE,
	key_sha256 bytea NOT NULL CHECK (length(key_sha256) = 32),
	description text,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz,
	revoked_at timestamptz,
	last_used_at timestamptz
);
CREATE INDEX api_keys_principal_idx ON api_keys (principal);
COMMENT ON TABLE api_keys IS 'stackgate''s bearer API keys: hashes only, never the key';

-- A principal's own attributes as the caller JSON sg_acl_check takes:
-- {"teams": ["a"], …} with only the categories it has rows in; '{}' when none.
CREATE FUNCTION principal_attributes_json(p text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT coalesce(jsonb_object_agg(s.category, s.vals), '{}'::jsonb)
	FROM (SELECT a.category, jsonb_agg(a.value ORDER BY a.value) AS vals
	      FROM principal_attributes a WHERE a.principal = p GROUP BY a.category) AS s
$$;

-- Every registry object each enabled principal may see, judged on the
-- attributes in principal_attributes only (an auth service may add more per
-- request).  Principals holding the role 'admin' see everything: that is the
-- default of auth.admin_roles; a deployment that configures other admin roles
-- should read this view with that in mind.
CREATE VIEW principal_visible_resources AS
SELECT p.name AS principal, r.*
FROM principals AS p
CROSS JOIN registry AS r
WHERE NOT p.disabled
  AND (EXISTS (SELECT 1 FROM principal_attributes AS a
	       WHERE a.principal = p.name AND a.category = 'roles' AND a.value = 'admin')
       OR sg_acl_check(r.has_acl, r.roles, r.teams, r.projects, r.namespaces, principal_attributes_json(p.name)));
COMMENT ON VIEW principal_visible_resources IS
	'What each principal can see (admins: role ''admin''), from principal_attributes; anonymous callers see rows where has_acl is false';

CREATE FUNCTION sg_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

CREATE TRIGGER principals_touch BEFORE UPDATE ON principals
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();

-- 'principal:<name>' for the rows a statement touched (old and new name).
-- Identical notifications in one transaction are delivered once.
CREATE FUNCTION sg_notify_principal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	col text := CASE WHEN TG_TABLE_NAME = 'principals' THEN 'name' ELSE 'principal' END;
	n text;
BEGIN
	IF TG_OP <> 'INSERT' THEN
		n := to_jsonb(OLD) ->> col;
		PERFORM pg_notify('stackgate_registry', 'principal:' || n);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		n := to_jsonb(NEW) ->> col;
		PERFORM pg_notify('stackgate_registry', 'principal:' || n);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER principals_notify AFTER INSERT OR UPDATE OR DELETE ON principals
	FOR EACH ROW EXECUTE FUNCTION sg_notify_principal();
CREATE TRIGGER principal_attributes_notify AFTER INSERT OR UPDATE OR DELETE ON principal_attributes
	FOR EACH ROW EXECUTE FUNCTION sg_notify_principal();
-- last_used_at is bookkeeping written by the auth check itself: no notification for it.
CREATE TRIGGER api_keys_notify AFTER INSERT OR DELETE ON api_keys
	FOR EACH ROW EXECUTE FUNCTION sg_notify_principal();
CREATE TRIGGER api_keys_notify_update
	AFTER UPDATE OF key_id, principal, key_sha256, expires_at, revoked_at ON api_keys
	FOR EACH ROW EXECUTE FUNCTION sg_notify_principal();
