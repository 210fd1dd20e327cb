"""What a replication records (the monitor) and the named metrics computed from the record."""
