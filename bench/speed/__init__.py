"""Speed and memory: `bench.profile` (data loading against compute, per training step),
`bench.throughput` (x4 inference up to 4K, tiled), `bench.conv_speed` (the conv peak),
`bench.memory` (peak training memory per patch size and memory mode).
"""
