"""Accounts: citizens, officers, admins, credentials, activation and reset codes, captcha and the
keys that sign access tokens."""
