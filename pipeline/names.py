"""Account names: the default account (the account of a pipeline that registers none, pipeline.accounts) and the
rule every registered name follows."""
# Raw days in <raw_root>/YYYY-MM-DD, rows with account = 'default' (the rows of a database created before accounts).
DEFAULT_ACCOUNT = "default"

# A letter first, so that an account's folder never looks like a day's (<raw_root>/<account>/YYYY-MM-DD).
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
NAME_RULE = "a lower-case letter, then up to 62 lower-case letters, digits, '_' or '-'"
