"""Dossiers (hồ sơ): filing, files, processing by officers, history and deadlines."""
