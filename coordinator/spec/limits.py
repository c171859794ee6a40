"""Size bounds shared by job specs, `sgc data prepare` and the dataset loader (one home, no imports,
so the CLI can use them in option types without loading numpy or pyarrow)."""

MAX_ROWS = 100_000_000
MAX_FEATURES = 1_000_000
MAX_CLASSES = 100_000
MAX_PARTITIONS = 100_000
MAX_CELLS = 250_000_000  # rows x features of a synthetic table: 1 GB as float32
MAX_FILE_BYTES = 2 << 30  # a .csv / .parquet dataset source
MAX_SEED = 2**32 - 1
