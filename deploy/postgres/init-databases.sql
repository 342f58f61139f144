-- One database per service (compose only: the postgres image runs this once, on an empty
-- data volume). In production each service's DATABASE_URL may point anywhere.
CREATE DATABASE accounts;
CREATE DATABASE catalogue;
CREATE DATABASE dossiers;
CREATE DATABASE notifier;
