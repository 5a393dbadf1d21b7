-- The ledger's schema version 0001 on SQLite, exactly as the service's first ledger.py
-- (commit 6b9adc0) created it: CreateTable/CreateIndex of its metadata. test_service_migration.py
-- builds an old ledger from it.
CREATE TABLE audit (
	seq BIGINT NOT NULL, 
	at_us BIGINT NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	event VARCHAR(64) NOT NULL, 
	deployment_id VARCHAR(32), 
	object_id VARCHAR(64), 
	payload TEXT NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (prev_hash), 
	UNIQUE (hash)
);
CREATE TABLE audit_head (
	id INTEGER NOT NULL, 
	seq BIGINT NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE deployments (
	id VARCHAR(32) NOT NULL, 
	tenant VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	policy VARCHAR(16) NOT NULL, 
	config TEXT NOT NULL, 
	root TEXT NOT NULL, 
	current_version INTEGER, 
	batch_seq INTEGER NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_deployments_tenant ON deployments (tenant);
CREATE TABLE tokens (
	id VARCHAR(32) NOT NULL, 
	tenant VARCHAR(64) NOT NULL, 
	scopes VARCHAR(64) NOT NULL, 
	salt BLOB NOT NULL, 
	digest BLOB NOT NULL, 
	label VARCHAR(200) NOT NULL, 
	created FLOAT NOT NULL, 
	expires FLOAT, 
	revoked FLOAT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_tokens_tenant ON tokens (tenant);
CREATE TABLE jobs (
	id INTEGER NOT NULL, 
	deployment_id VARCHAR(32) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	parent INTEGER, 
	attempts INTEGER NOT NULL, 
	max_attempts INTEGER NOT NULL, 
	lease_owner VARCHAR(64), 
	lease_expires FLOAT, 
	next_attempt FLOAT NOT NULL, 
	error TEXT, 
	version INTEGER, 
	created FLOAT NOT NULL, 
	updated FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(deployment_id) REFERENCES deployments (id)
);
CREATE INDEX ix_jobs_deployment_id ON jobs (deployment_id);
CREATE INDEX ix_jobs_state ON jobs (state);
CREATE TABLE manifest (
	deployment_id VARCHAR(32) NOT NULL, 
	row_id BIGINT NOT NULL, 
	content_sha256 VARCHAR(64) NOT NULL, 
	subject VARCHAR(256) NOT NULL, 
	deleted_in INTEGER, 
	PRIMARY KEY (deployment_id, row_id), 
	FOREIGN KEY(deployment_id) REFERENCES deployments (id)
);
CREATE INDEX ix_manifest_subject ON manifest (subject);
CREATE TABLE requests (
	id VARCHAR(32) NOT NULL, 
	deployment_id VARCHAR(32) NOT NULL, 
	idempotency_key VARCHAR(128) NOT NULL, 
	body_sha256 VARCHAR(64) NOT NULL, 
	subject VARCHAR(256), 
	row_ids TEXT, 
	state VARCHAR(16) NOT NULL, 
	job_id INTEGER, 
	version INTEGER, 
	error TEXT, 
	token_id VARCHAR(32) NOT NULL, 
	created FLOAT NOT NULL, 
	updated FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (deployment_id, idempotency_key), 
	FOREIGN KEY(deployment_id) REFERENCES deployments (id)
);
CREATE INDEX ix_requests_deployment_id ON requests (deployment_id);
CREATE INDEX ix_requests_job_id ON requests (job_id);
CREATE INDEX ix_requests_state ON requests (state);
CREATE TABLE versions (
	deployment_id VARCHAR(32) NOT NULL, 
	number INTEGER NOT NULL, 
	parent INTEGER, 
	path TEXT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	method VARCHAR(64) NOT NULL, 
	config TEXT NOT NULL, 
	requests TEXT NOT NULL, 
	rows_removed TEXT NOT NULL, 
	verification TEXT NOT NULL, 
	job_id INTEGER, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (deployment_id, number), 
	FOREIGN KEY(deployment_id) REFERENCES deployments (id), 
	UNIQUE (job_id)
);
