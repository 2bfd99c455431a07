-- SPDX-License-Identifier: Apache-2.0
-- 003_origin.sql: where each registry object came from.
--
-- from_config is true for an object the configuration file registers at
-- start (resources_preregister), false for one registered over HTTP.  The
-- default unregister rule reads it inside the deleting transaction: only an
-- admin may unregister an object from the config; others need to be its
-- owner (owner) or, anonymous, to unregister an ownerless object.  Rows
-- that exist when this migration runs are marked false; the next start
-- marks those the config still lists (an identical object the config
-- registers is claimed by it).  The registry view and
-- principal_visible_resources show the column last.

ALTER TABLE models ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE shields ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE vector_dbs ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE datasets ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE scoring_functions ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE benchmarks ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE tool_groups ADD COLUMN from_config boolean NOT NULL DEFAULT false;
ALTER TABLE tools ADD COLUMN from_config boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN models.from_config IS
	'true: registered by the configuration file at start (only an admin may unregister it); false: over the API';
COMMENT ON COLUMN shields.from_config IS 'true: registered by the configuration file at start';
COMMENT ON COLUMN vector_dbs.from_config IS 'true: registered by the configuration file at start';
COMMENT ON COLUMN datasets.from_config IS 'true: registered by the configuration file at start';
COMMENT ON COLUMN scoring_functions.from_config IS 'true: registered by the configuration file at start';
COMMENT ON COLUMN benchmarks.from_config IS 'true: registered by the configuration file at start';
COMMENT ON COLUMN tool_groups.from_config IS 'true: registered by the configuration file at start (with its tools)';
COMMENT ON COLUMN tools.from_config IS 'true: its tool group was registered by the configuration file at start';

CREATE OR REPLACE VIEW registry AS
	SELECT 'model'::text AS type, identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM models
	UNION ALL
	SELECT 'shield', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM shields
	UNION ALL
	SELECT 'vector_db', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM vector_dbs
	UNION ALL
	SELECT 'dataset', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM datasets
	UNION ALL
	SELECT 'scoring_function', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM scoring_functions
	UNION ALL
	SELECT 'benchmark', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM benchmarks
	UNION ALL
	SELECT 'tool_group', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM tool_groups
	UNION ALL
	SELECT 'tool', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq, from_config FROM tools;

-- r.* was expanded when the view was made: made again, it gains from_config.
CREATE OR REPLACE VIEW principal_visible_resources AS
SELECT p.name AS principal, r.*
FROM principals AS p
CROSS JOIN registry AS r
WHERE NOT p.disabled
  AND (EXISTS (SELECT 1 FROM principal_attributes AS a
	       WHERE a.principal = p.name AND a.category = 'roles' AND a.value = 'admin')
       OR sg_acl_check(r.has_acl, r.roles, r.teams, r.projects, r.namespaces, principal_attributes_json(p.name)));
