"""HTTP layer: thin routes that parse, authorise and call one domain function."""
