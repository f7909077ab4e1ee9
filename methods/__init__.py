"""The method registry, linking papers and topics to methods and code, reproduce recipes and
link checks."""
