-- SPDX-License-Identifier: Apache-2.0
-- 005_policy.sql: the access policy in SQL, so that inspection answers what
-- the API answers for the configured policy, not only the default.
--
-- access_policy holds the policy in force (src/policy.h: the config's
-- access_policy rules, or the default written as rules) and auth.admin_roles,
-- as JSON in the normalised form `stackgate check-config --print-policy`
-- prints.  Every stackgate process writes it at start and on reload
-- (registry_sync_policy); hosts with different configs overwrite each other,
-- and the row says which wrote last.  Without a row nothing is permitted.
--
-- sg_policy_decide() is the SQL twin of policy_decide() in src/policy.c:
-- the first rule whose scope matches and whose conditions apply decides;
-- conditions are three-valued (NULL is "cannot be decided"), combine as
-- Kleene's AND, and a matching rule whose conditions are NULL decides deny.
-- sg_can() applies the stored policy to a principal of `principals` (its
-- principal_attributes only; NULL is an anonymous caller) and a registry
-- object, and principal_visible_resources follows it for 'read'.

CREATE TABLE access_policy (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	rules jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
	admin_roles text[] NOT NULL,
	is_default boolean NOT NULL,
	written_by text NOT NULL,
	written_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE access_policy IS
	'The access policy in force (as check-config --print-policy prints it) and auth.admin_roles, written by stackgate at start and on reload';

-- One condition of a rule: true, false, or NULL when it cannot be decided.
CREATE FUNCTION sg_policy_condition(cond text, principal text, caller jsonb, has_acl boolean, roles text[],
				    teams text[], projects text[], namespaces text[], owner text, from_config boolean)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	w text[] := regexp_split_to_array(btrim(cond, E' \t\r\n'), E'[ \t\r\n]+');
	n int := cardinality(w);
	cat text;
	val text;
	mine text[];
	theirs text[];
	is_in boolean;
BEGIN
	IF n = 5 AND w[1] = 'user' AND w[2] = 'with' AND w[4] = 'in' THEN
		RETURN w[3] = ANY (sg_jsonb_text_array(caller -> w[5]));
	ELSIF n = 6 AND w[1] = 'user' AND w[2] = 'with' AND w[4] = 'not' AND w[5] = 'in' THEN
		RETURN NOT (w[3] = ANY (sg_jsonb_text_array(caller -> w[6])));
	ELSIF w = '{user,is,owner}' OR w = '{user,is,not,owner}' THEN
		IF owner IS NULL THEN
			RETURN NULL;
		END IF;
		is_in := principal IS NOT NULL AND principal = owner;
		RETURN CASE WHEN n = 3 THEN is_in ELSE NOT is_in END;
	ELSIF (n = 4 AND w[1:3] = '{user,in,owners}') OR (n = 5 AND w[1:4] = '{user,not,in,owners}') THEN
		cat := w[n];
		theirs := CASE WHEN has_acl IS NOT TRUE THEN NULL
			       WHEN cat = 'roles' THEN roles WHEN cat = 'teams' THEN teams
			       WHEN cat = 'projects' THEN projects WHEN cat = 'namespaces' THEN namespaces END;
		IF theirs IS NULL OR cardinality(theirs) = 0 THEN
			RETURN NULL;
		END IF;
		mine := sg_jsonb_text_array(caller -> cat);
		is_in := theirs && mine;
		RETURN CASE WHEN n = 4 THEN is_in ELSE NOT is_in END;
	ELSIF w = '{resource,is,unowned}' THEN
		RETURN owner IS NULL;
	ELSIF w = '{user,meets,access_attributes}' THEN
		RETURN sg_acl_check(has_acl, roles, teams, projects, namespaces, caller);
	ELSIF w = '{resource,is,from,config}' THEN
		RETURN from_config;
	ELSIF w = '{resource,is,not,from,config}' THEN
		RETURN NOT from_config;
	ELSIF w = '{user,is,anonymous}' THEN
		RETURN principal IS NULL;
	ELSIF w = '{user,is,not,anonymous}' THEN
		RETURN principal IS NOT NULL;
	END IF;
	RETURN NULL; -- unknown text (the C side refuses it in the config): cannot be decided
END
$$;

-- The decision: 'permit', 'forbid', 'no_match' or 'undecided' (a matching rule's conditions were NULL).
CREATE FUNCTION sg_policy_decide(rules jsonb, principal text, caller jsonb, action text, rtype text, ident text,
				 has_acl boolean, roles text[], teams text[], projects text[], namespaces text[],
				 owner text, from_config boolean)
RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	rule jsonb;
	scope jsonb;
	res text;
	sep int;
	conds jsonb;
	c jsonb;
	v boolean;
	applies boolean;
BEGIN
	FOR rule IN SELECT e FROM jsonb_array_elements(coalesce(rules, '[]')) AS e LOOP
		scope := coalesce(rule -> 'permit', rule -> 'forbid');
		IF NOT (scope -> 'actions') ? action THEN
			CONTINUE;
		END IF;
		IF scope ? 'principal' AND (principal IS NULL OR scope ->> 'principal' <> principal) THEN
			CONTINUE;
		END IF;
		res := scope ->> 'resource';
		IF res IS NOT NULL THEN
			sep := position('::' IN res);
			IF left(res, sep - 1) <> rtype OR (substr(res, sep + 2) <> '*' AND substr(res, sep + 2) <> ident) THEN
				CONTINUE;
			END IF;
		END IF;
		conds := coalesce(rule -> 'when', rule -> 'unless', '[]');
		applies := true;
		FOR c IN SELECT e FROM jsonb_array_elements(conds) AS e LOOP
			v := sg_policy_condition(c #>> '{}', principal, caller, has_acl, roles, teams, projects, namespaces,
						 owner, from_config);
			IF v IS FALSE THEN
				applies := false;
				EXIT;
			ELSIF v IS NULL THEN
				applies := NULL;
			END IF;
		END LOOP;
		IF rule ? 'unless' THEN
			applies := NOT applies;
		END IF;
		IF applies IS FALSE THEN
			CONTINUE;
		ELSIF applies IS NULL THEN
			RETURN 'undecided';
		END IF;
		RETURN CASE WHEN rule ? 'forbid' THEN 'forbid' ELSE 'permit' END;
	END LOOP;
	RETURN 'no_match';
END
$$;

-- May principal (a row of principals, judged on its principal_attributes; NULL: anonymous, no attributes)
-- do action (create, read, update, delete) on the registry object of type rtype and identifier ident, under
-- the stored policy?  False for a disabled or unknown principal, a missing object, and without a stored policy.
CREATE FUNCTION sg_can(principal text, action text, rtype text, ident text)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT coalesce((
		SELECT sg_policy_decide(ap.rules, principal,
					CASE WHEN principal IS NULL THEN '{}'::jsonb ELSE principal_attributes_json(principal) END,
					action, r.type, r.identifier, r.has_acl, r.roles, r.teams, r.projects,
					r.namespaces, r.owner, r.from_config) = 'permit'
		FROM access_policy AS ap, registry AS r
		WHERE r.type = rtype AND r.identifier = ident
		  AND (principal IS NULL OR EXISTS (SELECT 1 FROM principals AS p WHERE p.name = principal AND NOT p.disabled))
	), false)
$$;

-- Made again: it follows the stored policy (and so auth.admin_roles) instead of the role 'admin'.
CREATE OR REPLACE VIEW principal_visible_resources AS
SELECT p.name AS principal, r.*
FROM principals AS p
CROSS JOIN registry AS r
CROSS JOIN access_policy AS ap
WHERE NOT p.disabled
  AND sg_policy_decide(ap.rules, p.name, principal_attributes_json(p.name), 'read', r.type, r.identifier, r.has_acl,
		       r.roles, r.teams, r.projects, r.namespaces, r.owner, r.from_config) = 'permit';
COMMENT ON VIEW principal_visible_resources IS
	'What each principal can read under the access policy in force (table access_policy), from principal_attributes';
