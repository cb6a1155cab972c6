"""Read-only queries behind the JSON API, written as Ibis expressions (parameters are literals
bound by Ibis, never text pasted into SQL)."""
