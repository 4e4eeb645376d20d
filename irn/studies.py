"""The studies that declare their config keys, checks, loss term and metrics in their own
module (irn/study.py says what a declaration holds). A new study is its module plus one
entry here; irn.config, the objective, irn/loss_terms.py and the metric registry read
STUDIES."""
from irn.temporal import STUDY as TEMPORAL
from irn.video.codec_study import STUDY as VIDEO_CODEC
from irn.video.study import STUDY as FRAMES

STUDIES = (TEMPORAL, FRAMES, VIDEO_CODEC)
