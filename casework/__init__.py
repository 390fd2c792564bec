"""casework — child-protection case management (NĐ 56/2017/NĐ-CP workflow)."""

__version__ = "0.1.0"
