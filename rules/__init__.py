"""Built-in rule files, shipped inside the wheel as ``leakscan.rules_data``."""
