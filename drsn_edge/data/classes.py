"""The ten bearing conditions of the CWRU 0-3 HP drive-end benchmark.

Names follow the CWRU community's convention; both the real-data loader and the
synthetic generator use this order, so a model trained on one can be evaluated
on the other.
"""

BEARING_CLASSES: tuple[str, ...] = (
    "normal",
    "IR007", "IR014", "IR021",
    "B007", "B014", "B021",
    "OR007@6", "OR014@6", "OR021@6",
)

# SKF 6205-2RS JEM defect frequencies as multiples of shaft speed (CWRU's table).
BPFI_ORDER = 5.4152
BPFO_ORDER = 3.5848
FTF_ORDER = 0.39828
BSF_ORDER = 4.7135  # twice the ball spin frequency: a ball defect strikes both races
