"""Video: camera-motion clips rendered from photos (clips.py), reading and writing video
files and frame folders (io.py), the predict / interpolate tasks (frames.py) and video
rescaling through a real codec (codec.py)."""
