-- One database per service (docs/architecture.md, Runtime pieces). Run once by the postgres image's entrypoint;
-- the local stack creates the same databases in infra/local/postgres.sh.
CREATE DATABASE inventory OWNER es;
CREATE DATABASE payments OWNER es;
CREATE DATABASE sagas OWNER es;
