"""The neighbourhood of an alarmed service: the walk that finds its resources, and their golden signals."""
