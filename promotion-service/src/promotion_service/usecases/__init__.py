"""Use cases: a PostgreSQL transaction plus the Redis facts and registry entries it implies."""
