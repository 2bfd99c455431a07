-- SPDX-License-Identifier: Apache-2.0
-- 001_core.sql: the registry of Llama Stack resources.
--
-- One table per resource type with typed columns, so an operator can query,
-- join and audit the registry with plain SQL.  Every table shares the same
-- leading columns (identifier, provider_id, provider_resource_id, owner,
-- timestamps, access attributes, seq); the `registry` view stacks them.
-- Access attributes: has_acl false means the object has no ACL at all (public);
-- with has_acl true a NULL category is "not required" and '{}' denies everyone
-- (llama-stack-api.md §3.3).  seq comes from one shared sequence and gives
-- the registration order across types.
--
-- Every insert, update and delete sends NOTIFY stackgate_registry with the
-- payload '<type>:<identifier>' (a TRUNCATE sends '<type>:'), so each
-- stackgate process refreshes its cache.  Applied by `stackgate migrate`
-- inside one transaction: no BEGIN/COMMIT here.

CREATE SEQUENCE registry_seq;
COMMENT ON SEQUENCE registry_seq IS
	'Registration order across every resource table (their seq column)';

-- NULL for NULL, else the strings of a JSON array, in order.  The registry
-- passes text[] values as JSON arrays so SQL text never carries a value.
CREATE FUNCTION sg_registry_text_array(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT ARRAY(SELECT e FROM jsonb_array_elements_text(j) WITH ORDINALITY AS x(e, n) ORDER BY n)
$$;

CREATE FUNCTION sg_registry_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

-- TG_ARGV[0] is the type name ('model', 'tool_group', ...).
CREATE FUNCTION sg_registry_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM pg_notify('stackgate_registry', TG_ARGV[0] || ':');
		RETURN NULL;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		PERFORM pg_notify('stackgate_registry', TG_ARGV[0] || ':' || OLD.identifier);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		PERFORM pg_notify('stackgate_registry', TG_ARGV[0] || ':' || NEW.identifier);
	END IF;
	RETURN NULL;
END
$$;

CREATE TABLE models (
	identifier text PRIMARY KEY
		CONSTRAINT models_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	metadata jsonb,
	model_type text NOT NULL DEFAULT 'llm' CHECK (model_type IN ('llm', 'embedding')),
	-- metadata.embedding_dimension when it is a positive integer, else NULL.
	embedding_dimension integer GENERATED ALWAYS AS (
		CASE WHEN jsonb_typeof(metadata -> 'embedding_dimension') = 'number' THEN
			CASE WHEN (metadata ->> 'embedding_dimension')::numeric BETWEEN 1 AND 2147483647
				AND (metadata ->> 'embedding_dimension')::numeric
					= trunc((metadata ->> 'embedding_dimension')::numeric)
			THEN (metadata ->> 'embedding_dimension')::numeric::integer END
		END) STORED,
	CONSTRAINT models_identifier_dimension_key UNIQUE (identifier, embedding_dimension)
);
COMMENT ON TABLE models IS
	'Registered models (POST /v1/models): identifier is the name clients use, provider_resource_id the upstream''s';
COMMENT ON COLUMN models.owner IS 'Principal that registered it; NULL for the config or an anonymous caller';
COMMENT ON COLUMN models.has_acl IS
	'false: no access attributes (everyone sees it); true: roles/teams/projects/namespaces apply, NULL = not required';
COMMENT ON COLUMN models.seq IS 'Registration order (shared sequence registry_seq)';
COMMENT ON COLUMN models.embedding_dimension IS 'metadata.embedding_dimension, maintained by PostgreSQL';

CREATE TABLE shields (
	identifier text PRIMARY KEY
		CONSTRAINT shields_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	params jsonb
);
COMMENT ON TABLE shields IS 'Registered safety shields (POST /v1/shields)';

CREATE TABLE vector_dbs (
	identifier text PRIMARY KEY
		CONSTRAINT vector_dbs_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	embedding_model text NOT NULL
		CONSTRAINT vector_dbs_embedding_model_fkey REFERENCES models (identifier) ON DELETE RESTRICT,
	embedding_dimension integer NOT NULL CHECK (embedding_dimension > 0),
	-- The dimension must be the embedding model's own.
	CONSTRAINT vector_dbs_embedding_dimension_fkey FOREIGN KEY (embedding_model, embedding_dimension)
		REFERENCES models (identifier, embedding_dimension) ON DELETE RESTRICT
);
CREATE INDEX vector_dbs_embedding_model_idx ON vector_dbs (embedding_model);
COMMENT ON TABLE vector_dbs IS
	'Registered vector databases (POST /v1/vector-dbs); a model in use here cannot be unregistered';

CREATE TABLE datasets (
	identifier text PRIMARY KEY
		CONSTRAINT datasets_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	purpose text NOT NULL
		CHECK (purpose IN ('post-training/messages', 'eval/question-answer', 'eval/messages-answer')),
	source jsonb NOT NULL CHECK (jsonb_typeof(source) = 'object'),
	metadata jsonb
);
COMMENT ON TABLE datasets IS 'Registered datasets (POST /v1/datasets); source is {"type":"uri",...} or {"type":"rows",...}';

CREATE TABLE scoring_functions (
	identifier text PRIMARY KEY
		CONSTRAINT scoring_functions_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	description text,
	metadata jsonb,
	return_type jsonb NOT NULL,
	params jsonb
);
COMMENT ON TABLE scoring_functions IS 'Registered scoring functions (POST /v1/scoring-functions)';

CREATE TABLE benchmarks (
	identifier text PRIMARY KEY
		CONSTRAINT benchmarks_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	dataset_id text NOT NULL
		CONSTRAINT benchmarks_dataset_id_fkey REFERENCES datasets (identifier) ON DELETE RESTRICT,
	scoring_functions text[] NOT NULL,
	metadata jsonb
);
CREATE INDEX benchmarks_dataset_id_idx ON benchmarks (dataset_id);
COMMENT ON TABLE benchmarks IS
	'Registered benchmarks (POST /v1/eval/benchmarks); every scoring function named must exist (trigger)';

-- An array cannot carry a foreign key: these two triggers keep
-- benchmarks.scoring_functions pointing at existing scoring functions and
-- report a violation as foreign_key_violation (DETAIL: the identifier).
CREATE FUNCTION sg_registry_benchmark_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	missing text;
BEGIN
	PERFORM 1 FROM scoring_functions WHERE identifier = ANY (NEW.scoring_functions) FOR KEY SHARE;
	SELECT f INTO missing FROM unnest(NEW.scoring_functions) AS f
	WHERE NOT EXISTS (SELECT 1 FROM scoring_functions AS s WHERE s.identifier = f) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'scoring function of benchmark % does not exist', NEW.identifier
			USING ERRCODE = 'foreign_key_violation', DETAIL = missing,
			      CONSTRAINT = 'benchmarks_scoring_functions_fkey', TABLE = 'benchmarks';
	END IF;
	RETURN NEW;
END
$$;

CREATE FUNCTION sg_registry_scoring_function_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	user_id text;
BEGIN
	SELECT b.identifier INTO user_id FROM benchmarks AS b WHERE OLD.identifier = ANY (b.scoring_functions)
	ORDER BY b.seq LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'scoring function % is used by a benchmark', OLD.identifier
			USING ERRCODE = 'foreign_key_violation', DETAIL = user_id,
			      CONSTRAINT = 'benchmarks_scoring_functions_fkey', TABLE = 'scoring_functions';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER benchmarks_scoring_functions_check BEFORE INSERT OR UPDATE OF scoring_functions ON benchmarks
	FOR EACH ROW EXECUTE FUNCTION sg_registry_benchmark_check();
CREATE TRIGGER scoring_functions_in_use_check BEFORE DELETE OR UPDATE OF identifier ON scoring_functions
	FOR EACH ROW EXECUTE FUNCTION sg_registry_scoring_function_check();

CREATE TABLE tool_groups (
	identifier text PRIMARY KEY
		CONSTRAINT tool_groups_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	mcp_endpoint jsonb,
	args jsonb
);
COMMENT ON TABLE tool_groups IS 'Registered tool groups (POST /v1/toolgroups); deleting one deletes its tools';

CREATE TABLE tools (
	identifier text PRIMARY KEY
		CONSTRAINT tools_identifier_check CHECK (length(identifier) BETWEEN 1 AND 255 AND identifier !~ '[[:cntrl:]]'),
	provider_id text NOT NULL,
	provider_resource_id text,
	owner text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	has_acl boolean NOT NULL DEFAULT false,
	roles text[],
	teams text[],
	projects text[],
	namespaces text[],
	seq bigint NOT NULL DEFAULT nextval('registry_seq') UNIQUE,
	toolgroup_id text NOT NULL
		CONSTRAINT tools_toolgroup_id_fkey REFERENCES tool_groups (identifier) ON DELETE CASCADE,
	tool_host text CHECK (tool_host IN ('distribution', 'client', 'model_context_protocol')),
	description text,
	parameters jsonb,
	metadata jsonb
);
CREATE INDEX tools_toolgroup_id_idx ON tools (toolgroup_id);
COMMENT ON TABLE tools IS
	'Tools of the registered tool groups; a tool name is global (one group owns it)';

CREATE TRIGGER models_touch BEFORE UPDATE ON models FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER shields_touch BEFORE UPDATE ON shields FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER vector_dbs_touch BEFORE UPDATE ON vector_dbs FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER datasets_touch BEFORE UPDATE ON datasets FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER scoring_functions_touch BEFORE UPDATE ON scoring_functions
	FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER benchmarks_touch BEFORE UPDATE ON benchmarks FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER tool_groups_touch BEFORE UPDATE ON tool_groups FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();
CREATE TRIGGER tools_touch BEFORE UPDATE ON tools FOR EACH ROW EXECUTE FUNCTION sg_registry_touch();

CREATE TRIGGER models_notify AFTER INSERT OR UPDATE OR DELETE ON models
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('model');
CREATE TRIGGER shields_notify AFTER INSERT OR UPDATE OR DELETE ON shields
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('shield');
CREATE TRIGGER vector_dbs_notify AFTER INSERT OR UPDATE OR DELETE ON vector_dbs
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('vector_db');
CREATE TRIGGER datasets_notify AFTER INSERT OR UPDATE OR DELETE ON datasets
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('dataset');
CREATE TRIGGER scoring_functions_notify AFTER INSERT OR UPDATE OR DELETE ON scoring_functions
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('scoring_function');
CREATE TRIGGER benchmarks_notify AFTER INSERT OR UPDATE OR DELETE ON benchmarks
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('benchmark');
CREATE TRIGGER tool_groups_notify AFTER INSERT OR UPDATE OR DELETE ON tool_groups
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('tool_group');
CREATE TRIGGER tools_notify AFTER INSERT OR UPDATE OR DELETE ON tools
	FOR EACH ROW EXECUTE FUNCTION sg_registry_notify('tool');

CREATE TRIGGER models_notify_truncate AFTER TRUNCATE ON models
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('model');
CREATE TRIGGER shields_notify_truncate AFTER TRUNCATE ON shields
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('shield');
CREATE TRIGGER vector_dbs_notify_truncate AFTER TRUNCATE ON vector_dbs
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('vector_db');
CREATE TRIGGER datasets_notify_truncate AFTER TRUNCATE ON datasets
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('dataset');
CREATE TRIGGER scoring_functions_notify_truncate AFTER TRUNCATE ON scoring_functions
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('scoring_function');
CREATE TRIGGER benchmarks_notify_truncate AFTER TRUNCATE ON benchmarks
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('benchmark');
CREATE TRIGGER tool_groups_notify_truncate AFTER TRUNCATE ON tool_groups
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('tool_group');
CREATE TRIGGER tools_notify_truncate AFTER TRUNCATE ON tools
	FOR EACH STATEMENT EXECUTE FUNCTION sg_registry_notify('tool');

CREATE TABLE providers (
	api text NOT NULL
		CHECK (api IN ('inference', 'safety', 'vector_io', 'datasetio', 'scoring', 'eval', 'tool_runtime')),
	provider_id text NOT NULL,
	provider_type text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (api, provider_id)
);
COMMENT ON TABLE providers IS
	'Mirror of the providers in the running configuration, rewritten at start; configs and secrets are never stored';

CREATE VIEW registry AS
	SELECT 'model'::text AS type, identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM models
	UNION ALL
	SELECT 'shield', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM shields
	UNION ALL
	SELECT 'vector_db', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM vector_dbs
	UNION ALL
	SELECT 'dataset', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM datasets
	UNION ALL
	SELECT 'scoring_function', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM scoring_functions
	UNION ALL
	SELECT 'benchmark', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM benchmarks
	UNION ALL
	SELECT 'tool_group', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM tool_groups
	UNION ALL
	SELECT 'tool', identifier, provider_id, provider_resource_id, owner, created_at, updated_at,
	       has_acl, roles, teams, projects, namespaces, seq FROM tools;
COMMENT ON VIEW registry IS
	'Every registered resource, one row each (type = model, shield, vector_db, dataset, scoring_function, benchmark, tool_group, tool)';
