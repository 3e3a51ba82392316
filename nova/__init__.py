"""NOVA Memory: long-term episodic memory for OpenClaw agents.

Data flows one way: transcript → entry log → entities/episodes/relationships → recall.
"""

__version__ = "0.1.0"
