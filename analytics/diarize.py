"""Speaker separation for mono calls: who speaks when, and which voice is the agent.

A stereo call has a channel per party; a mono call has one mix, so its speech (the clips
:func:`analytics.audio.listen` keeps, within the VAD's speech activity) is separated
here, offline, with no model download, for two voices:

1. **Features.** MFCCs (python-speech-features) and the log pitch every 10 ms over the
   speech frames, on a compact timeline (speech and half a second of each pause),
   standardised over the call.
2. **Windows.** Speech is cut into sliding windows (``window_s`` and twice that long,
   every ``hop_s``); each window is described by the mean (and spread) of its features.
3. **Clustering.** The windows are clustered in two (scikit-learn k-means); each of the
   four views (two window lengths × two descriptions) is resegmented and the one whose
   voices are most distinct on held-out frames is kept. Below ``min_separation`` the
   call is one voice (a voicemail; or two voices too alike to tell apart).
4. **Resegmentation.** A Gaussian mixture per voice (scikit-learn) scores every frame;
   a Viterbi pass with a price per voice change (``switch_penalty``) gives each frame its
   voice, which puts turn boundaries within a few frames of the real change. The
   posterior smoothed over ``smooth_s`` is the frame's confidence.

Which voice is the agent (:func:`agent_side`) is read from the redacted transcript by
a learned classifier (:mod:`analytics.diarize_side`: a logistic regression over
turn-level features of each voice, trained on call scripts written for callqa, none of
them the benchmark's): the self-identification in a voice's opening
(``analytics/data/quality/``: ``je m'appelle <PERSON>``), the agent's pick-up formulas and
service offers and the caller's own requests (``analytics/data/diarize/side_<lang>.toml``:
``thank you for calling``, ``que puis-je faire pour vous``, ``I'm calling about``), who
says "you/your" rather than "I/my", "we", commitments ("I will", "je vais"), forms of
address, thanks, who asks the questions, turn lengths, who speaks first and last. A call
heard as one voice is named by the hand-weighted cues (CUE_WEIGHTS). When voiceprints
are on (:mod:`analytics.voiceprint`), the agent's voice across their other calls adds
its log-odds to the classifier's.

Segments then carry ``agent`` / ``customer`` when both the voice (frame posteriors) and
the side (cue margin) are confident, ``unknown`` otherwise, with the confidence.

Overlapping speech (both talking at once) is given to one speaker: a mix of two voices
is not separated into two streams.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from analytics import diarize_side
from analytics.audio import SAMPLE_RATE, SpeechClip
from analytics.models import (
    Interval,
    RawSegment,
    RawTranscript,
    RedactedSegment,
    RedactedTranscript,
    Speaker,
    SpeechActivity,
    VoiceStats,
    Word,
)

logger = logging.getLogger(__name__)

FRAME_STEP_S = 0.01
N_MFCC = 20
N_FEATURES = N_MFCC + 1  # MFCCs and log pitch
GAP_KEPT_S = 0.5  # of each pause between speech clips, on the compact timeline
VOICING = 0.45


@dataclass(frozen=True)
class DiarizeConfig:
    """Settings of the separation (``[diarize]`` of config.toml)."""

    window_s: float = 1.5
    hop_s: float = 0.5
    min_window_s: float = 0.4  # a shorter speech stretch is not a window of its own
    gmm_components: int = 8
    smooth_s: float = 1.0
    frame_cap: float = 5.0
    viterbi_smooth_s: float = 0.3
    switch_penalty: float = 40.0  # nats to change voice inside speech (Viterbi)
    resegment_iterations: int = 2
    min_confidence: float = 0.7  # below: the segment's speaker is "unknown"
    min_separation: float = 1.2  # voices less distinct than this (nats/frame) are one
    # Two voices split less distinctly than this are kept, but no segment is named:
    # on the benchmark such splits mix the parties (DER 34-39 %), clearer ones do not.
    min_named_separation: float = 1.6
    # A call heard as one voice is named only when clearly one voice (a two-voice split
    # this weak or weaker): near min_separation it may be two parties not told apart.
    max_one_voice_separation: float = 0.6
    # ... unless the side classifier is this sure of the agent's voice: the parties are
    # then mixed in part (the DER of the split), but most of each voice is one party.
    weak_split_side_confidence: float = 0.95
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> DiarizeConfig:
        section = settings.section("diarize") if hasattr(settings, "section") else {}
        return cls.from_mapping(section)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> DiarizeConfig:
        from analytics.config import typed_fields

        return cls(**typed_fields(cls, section, "diarize"))


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of speech given to one voice (``label`` 0 is the first to speak)."""

    start: float
    end: float
    label: int
    confidence: float


@dataclass(frozen=True)
class Diarization:
    """Who speaks when on a mono call, by anonymous voice label."""

    duration_s: float
    speakers: int
    turns: tuple[SpeakerTurn, ...] = ()
    separation: float = 0.0  # held-out log-likelihood ratio of the two-voice split
    # Frame posteriors (frames of FRAME_STEP_S); -1 label = no speech.
    frame_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8), repr=False)
    frame_confidence: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    # Each voice's features (VoiceStats) over the frames it is sure of, for the agent
    # voiceprint (analytics.voiceprint): kept from the separation's own feature pass.
    voices: Mapping[int, VoiceStats] = field(default_factory=dict, repr=False)

    def label_of(self, start: float, end: float) -> tuple[int | None, float]:
        """The voice heard most in ``[start, end]`` and its mean confidence there."""
        first, last = _frame(start), max(_frame(start) + 1, _frame(end))
        labels = self.frame_labels[first:last]
        confidence = self.frame_confidence[first:last]
        voiced = labels >= 0
        if not voiced.any():
            return None, 0.0
        counts = np.bincount(labels[voiced])
        label = int(counts.argmax())
        share = counts[label] / voiced.sum()
        return label, round(float(confidence[labels == label].mean() * share), 3)

    def intervals(self) -> dict[int, tuple[Interval, ...]]:
        out: dict[int, list[Interval]] = {}
        for turn in self.turns:
            out.setdefault(turn.label, []).append((turn.start, turn.end))
        return {label: tuple(iv) for label, iv in out.items()}


VOICE_STATS_CONFIDENCE = 0.8  # frames a voice's stats are taken from


def _voice_stats(
    features: np.ndarray, compact: Diarization, voiced: np.ndarray
) -> dict[int, VoiceStats]:
    """Each voice's Gaussian over the raw features of the frames it is sure of."""
    from analytics.voiceprint import stats_of

    n = min(len(features), len(compact.frame_labels))
    labels, confidence = compact.frame_labels[:n], compact.frame_confidence[:n]
    sure = voiced[:n] & (confidence >= VOICE_STATS_CONFIDENCE)
    out = {}
    for voice in np.unique(labels[sure & (labels >= 0)]):
        stats = stats_of(features[:n][sure & (labels == voice)])
        if stats is not None:
            out[int(voice)] = stats
    return out


def _frame(t: float) -> int:
    return max(0, round(t / FRAME_STEP_S))


class Diarizer:
    """Separates the voices of a mono call (light: build once, share across threads)."""

    def __init__(self, config: DiarizeConfig | None = None) -> None:
        self.config = config or DiarizeConfig()

    def diarize(
        self,
        samples: np.ndarray,
        speech: Sequence[Interval],
        sample_rate: int = SAMPLE_RATE,
    ) -> Diarization:
        """Who speaks when in ``samples`` (mono float32) within the ``speech`` intervals."""
        duration = len(samples) / sample_rate
        return self._diarize(voice_features(samples, sample_rate), speech, duration)

    def diarize_clips(
        self, clips: Sequence[SpeechClip], speech: Sequence[Interval], duration_s: float
    ) -> Diarization:
        """:meth:`diarize` from the speech clips :func:`analytics.audio.listen` keeps.

        The call's samples are never put back together, and silence costs nothing: the
        clips' frames are laid on a compact timeline where each pause between them is
        kept only ``GAP_KEPT_S`` long (still a pause to the Viterbi and the smoothing).
        Memory follows the speech, like the clips themselves: 21 float32 features per
        10 ms of speech (an eighth of the clips' samples), plus a byte and a float32 per
        10 ms of call for the labels and confidences that come out.
        """
        n_frames = max(0, round(duration_s / FRAME_STEP_S))
        placed: list[tuple[int, np.ndarray]] = []
        keep = np.zeros(n_frames, dtype=bool)
        covered = np.zeros(n_frames, dtype=bool)
        gap = _frames(GAP_KEPT_S)
        for clip in sorted(clips, key=lambda c: c.start):
            part = voice_features(clip.samples, SAMPLE_RATE).astype(np.float32)
            first = round(clip.start / SAMPLE_RATE / FRAME_STEP_S)
            last = min(n_frames, first + len(part))
            if last <= first:
                continue
            placed.append((first, part[: last - first]))
            covered[first:last] = True
            keep[max(0, first - gap) : min(n_frames, last + gap)] = True
        index = np.flatnonzero(keep)
        position = np.cumsum(keep, dtype=np.int32) - 1  # call frame -> compact frame
        features = np.zeros((len(index), N_FEATURES), dtype=np.float32)
        for first, part in placed:
            features[position[first : first + len(part)]] = part
        voiced = (_speech_mask(speech, n_frames) & covered)[keep]
        del position, covered
        compact = self._diarize(features, _runs(voiced), len(index) * FRAME_STEP_S, voiced)
        labels = np.full(n_frames, -1, dtype=np.int8)
        confidence = np.zeros(n_frames, dtype=np.float32)
        labels[index] = compact.frame_labels[: len(index)]
        confidence[index] = compact.frame_confidence[: len(index)]
        return Diarization(
            duration_s,
            compact.speakers,
            _turns(labels, confidence, duration_s),
            compact.separation,
            labels,
            confidence,
            _voice_stats(features, compact, voiced),
        )

    def _diarize(
        self,
        features: np.ndarray,
        speech: Sequence[Interval],
        duration: float,
        voiced: np.ndarray | None = None,
    ) -> Diarization:
        n_frames = len(features)
        if voiced is None:
            voiced = _speech_mask(speech, n_frames)
        labels = np.full(n_frames, -1, dtype=np.int8)
        confidence = np.zeros(n_frames)
        if voiced.sum() < _frames(self.config.min_window_s):
            return Diarization(duration, 0, (), 0.0, labels, confidence)
        features = _standardise(features, voiced)
        with threadpool_limits(1):  # calls run on worker threads already: no oversubscription
            best = self._best_partition(features, voiced, speech, 2)
        labels, confidence = best.labels, best.confidence
        if best.separation < self.config.min_separation:
            labels, confidence = np.where(voiced, 0, -1).astype(np.int8), voiced.astype(float)
        labels, confidence = _first_speaker_first(labels, confidence)
        speakers = int(labels.max()) + 1 if (labels >= 0).any() else 0
        turns = _turns(labels, confidence, duration)
        logger.debug(
            "diarization: %d speakers (separation %.2f), %d turns",
            speakers,
            best.separation,
            len(turns),
        )
        return Diarization(duration, speakers, turns, round(best.separation, 3), labels, confidence)

    # -- clustering ------------------------------------------------------------------------

    def _best_partition(
        self, features: np.ndarray, voiced: np.ndarray, speech: Sequence[Interval], k: int
    ) -> _Partition:
        """The most likely ``k``-voice partition over a few window clusterings."""
        from sklearn.cluster import KMeans

        best: _Partition | None = None
        tried: list[np.ndarray] = []
        for window_s in (self.config.window_s, 2 * self.config.window_s):
            windows = _windows(speech, len(features), replace(self.config, window_s=window_s))
            if len(windows) < k:
                continue
            for embeddings in _embeddings(features, windows):
                window_labels = KMeans(k, n_init=10, random_state=self.config.seed).fit_predict(
                    embeddings
                )
                init = _frames_from_windows(windows, window_labels, len(features), voiced)
                if any(_same_split(init, other, voiced) for other in tried):
                    continue  # this view starts where another did: it would end there too
                tried.append(init)
                found = self._resegment(features, init, voiced)
                found = replace(found, separation=self._held_out_separation(features, found.labels))
                if best is None or found.separation > best.separation:
                    best = found
        if best is None:
            zeros = np.where(voiced, 0, -1).astype(np.int8)
            return _Partition(zeros, voiced.astype(float), 0.0, 0.0)
        return best

    # -- resegmentation -------------------------------------------------------------------

    def _resegment(
        self, features: np.ndarray, labels: np.ndarray, voiced: np.ndarray
    ) -> _Partition:
        """Frame labels and posteriors from one GMM per voice, smoothed over time."""
        from sklearn.mixture import GaussianMixture

        confidence = np.where(voiced, 1.0, 0.0)
        log_likelihood, separation = float("-inf"), 0.0
        for _ in range(self.config.resegment_iterations):
            present = [lab for lab in np.unique(labels[voiced]) if lab >= 0]
            if len(present) < 2:
                break
            scores = []
            for lab in present:
                frames = features[(labels == lab) & voiced]
                n_components = max(1, min(self.config.gmm_components, len(frames) // 50))
                gmm = GaussianMixture(
                    n_components, covariance_type="diag", random_state=self.config.seed
                ).fit(frames.astype(np.float64))
                scores.append(_score_speech(gmm, features, voiced))
            frame_scores = np.array(scores)
            # One odd frame must not outvote its neighbours: cap how far below the best
            # voice a frame can score.
            capped = np.maximum(frame_scores, frame_scores.max(axis=0) - self.config.frame_cap)
            local = _smooth(capped, voiced, _frames(self.config.viterbi_smooth_s))
            posterior = _softmax(_smooth(capped, voiced, _frames(self.config.smooth_s)))
            best = viterbi(local, voiced, self.config.switch_penalty)
            new = np.where(voiced, np.array(present)[best], -1).astype(np.int8)
            confidence = np.where(voiced, posterior[best, np.arange(len(best))], 0.0)
            log_likelihood = float(frame_scores[best[voiced], np.flatnonzero(voiced)].sum())
            separation = _separation(capped, best, voiced)
            if np.array_equal(new, labels):
                break
            labels = _relabel(new)
        return _Partition(labels, confidence, log_likelihood, separation)

    def _held_out_separation(self, features: np.ndarray, labels: np.ndarray) -> float:
        """How distinct the voices are on frames their models were not trained on.

        Speech is cut into alternating one-second blocks; each voice's GMM is trained on
        one half and scored on the other, both ways. On one voice cut in two the models
        only learnt what was said, and the held-out ratio falls to about zero.
        """
        from sklearn.mixture import GaussianMixture

        block = (np.arange(len(labels)) // _frames(1.0)) % 2
        present = [lab for lab in np.unique(labels) if lab >= 0]
        if len(present) < 2:
            return 0.0
        ratios: dict[int, list[np.ndarray]] = {lab: [] for lab in present}
        for train in (0, 1):
            scores = []
            for lab in present:
                frames = features[(labels == lab) & (block == train)]
                if len(frames) < 20:
                    return 0.0
                n_components = max(1, min(self.config.gmm_components, len(frames) // 50))
                gmm = GaussianMixture(
                    n_components, covariance_type="diag", random_state=self.config.seed
                ).fit(frames.astype(np.float64))
                scores.append(_score_speech(gmm, features, labels >= 0))
            stacked = np.array(scores)
            stacked = np.maximum(stacked, stacked.max(axis=0) - self.config.frame_cap)
            for i, lab in enumerate(present):
                test = (labels == lab) & (block != train)
                others = np.delete(stacked, i, axis=0)[:, test].max(axis=0)
                ratios[lab].append(stacked[i, test] - others)
        return float(min(np.concatenate(r).mean() for r in ratios.values()))


def _same_split(a: np.ndarray, b: np.ndarray, voiced: np.ndarray, share: float = 0.98) -> bool:
    """Whether two two-voice labellings agree on ``share`` of the speech (either naming)."""
    if not voiced.any():
        return True
    agree = float(np.mean(a[voiced] == b[voiced]))
    return max(agree, 1.0 - agree) >= share


def _score_speech(gmm: Any, features: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Per-frame log-likelihoods on speech frames (0 elsewhere: silence never votes).

    Scoring only speech keeps the float64 working copy to the speech, not the call.
    """
    out = np.zeros(len(features))
    index = np.flatnonzero(voiced)
    for first in range(0, len(index), 100_000):  # in blocks: bounded memory on long calls
        part = index[first : first + 100_000]
        out[part] = gmm.score_samples(features[part].astype(np.float64))
    return out


@dataclass(frozen=True)
class _Partition:
    labels: np.ndarray
    confidence: np.ndarray
    log_likelihood: float
    separation: float  # mean cross-likelihood ratio between the voices (nats per frame)


def _separation(scores: np.ndarray, best: np.ndarray, voiced: np.ndarray) -> float:
    """How distinct the voices are: per frame, own model's log-likelihood over the others'.

    The mean over voices (each weighted equally) of the mean log-likelihood ratio of a
    voice's frames under its own model and the best other one: near 0 when the "voices"
    are one voice cut in two.
    """
    ratios = []
    for k in range(len(scores)):
        own = voiced & (best == k)
        if own.sum() < 10:
            return 0.0
        others = np.delete(scores, k, axis=0)[:, own].max(axis=0)
        ratios.append(float(np.mean(scores[k, own] - others)))
    return min(ratios)


def _embeddings(features: np.ndarray, windows: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Two views of each window's voice: mean MFCCs, and mean with spread."""
    means = np.array([features[a:b].mean(axis=0) for a, b in windows])
    spreads = np.array([features[a:b].std(axis=0) for a, b in windows])
    out = []
    for vectors in (means, np.hstack([means, spreads])):
        out.append((vectors - vectors.mean(axis=0)) / (vectors.std(axis=0) + 1e-8))
    return out


# -- features -------------------------------------------------------------------------------


def voice_features(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """MFCCs and log pitch per frame (the pitch of unvoiced frames: the clip's median).

    Timbre alone confuses two voices of the same sex; their pitch often tells them apart.
    """
    cepstra = mfcc(samples, sample_rate)
    f0 = pitch(samples, sample_rate)[: len(cepstra)]
    log_f0 = np.log(f0)
    voiced = np.isfinite(log_f0)
    fill = float(np.median(log_f0[voiced])) if voiced.any() else np.log(150.0)
    log_f0 = np.where(voiced, log_f0, fill)
    if len(log_f0) < len(cepstra):
        log_f0 = np.pad(log_f0, (0, len(cepstra) - len(log_f0)), constant_values=fill)
    return np.hstack([cepstra, log_f0[:, None]])


def mfcc(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """MFCC frames (25 ms windows every 10 ms), without the energy term."""
    from python_speech_features import mfcc as _mfcc

    signal = np.asarray(samples, dtype=np.float64)
    if len(signal) < int(0.025 * sample_rate):
        return np.zeros((0, N_MFCC))
    feats = _mfcc(
        signal,
        sample_rate,
        winlen=0.025,
        winstep=FRAME_STEP_S,
        numcep=N_MFCC + 1,
        nfilt=40,
        nfft=512 if sample_rate <= 16000 else 1024,
        appendEnergy=False,
    )
    return np.asarray(feats[:, 1:], dtype=np.float64)  # c0 is loudness, not voice


def _frames(seconds: float) -> int:
    return max(1, round(seconds / FRAME_STEP_S))


def _runs(mask: np.ndarray) -> list[Interval]:
    """The runs of True in a frame mask, as intervals in seconds."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8), prepend=0, append=0))
    return [
        (round(a * FRAME_STEP_S, 3), round(b * FRAME_STEP_S, 3))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def _speech_mask(speech: Sequence[Interval], n_frames: int) -> np.ndarray:
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in speech:
        mask[_frame(start) : _frame(end)] = True
    return mask


def _standardise(features: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    mean = features[voiced].mean(axis=0)
    std = features[voiced].std(axis=0) + 1e-8
    return ((features - mean) / std).astype(np.float32)


def _windows(
    speech: Sequence[Interval], n_frames: int, config: DiarizeConfig
) -> list[tuple[int, int]]:
    """Frame spans of the sliding windows over each speech interval."""
    length, hop, shortest = (
        _frames(config.window_s),
        _frames(config.hop_s),
        _frames(config.min_window_s),
    )
    out = []
    for start, end in speech:
        first, last = _frame(start), min(n_frames, _frame(end))
        if last - first < shortest:
            continue
        if last - first <= length:
            out.append((first, last))
            continue
        position = first
        while position + length < last:
            out.append((position, position + length))
            position += hop
        out.append((max(first, last - length), last))
    return out


def _frames_from_windows(
    windows: Sequence[tuple[int, int]], labels: np.ndarray, n_frames: int, voiced: np.ndarray
) -> np.ndarray:
    """Each speech frame gets the label most of its windows have (nearest window if none)."""
    k = int(labels.max()) + 1 if len(labels) else 1
    votes = np.zeros((k, n_frames))
    for (a, b), lab in zip(windows, labels, strict=True):
        votes[lab, a:b] += 1
    out = np.where(votes.sum(0) > 0, votes.argmax(0), -1)
    if (out[voiced] < 0).any() and (out >= 0).any():
        known = np.flatnonzero(out >= 0)
        for i in np.flatnonzero((out < 0) & voiced):
            out[i] = out[known[np.abs(known - i).argmin()]]
    return np.where(voiced, np.maximum(out, 0), -1).astype(np.int8)


def _smooth(scores: np.ndarray, voiced: np.ndarray, width: int) -> np.ndarray:
    """Moving average of frame scores over speech frames only (silence does not vote)."""
    kernel = np.ones(width)
    weights = np.convolve(voiced.astype(float), kernel, mode="same")
    out = np.empty_like(scores)
    for i, row in enumerate(scores):
        out[i] = np.convolve(np.where(voiced, row, 0.0), kernel, mode="same") / np.maximum(
            weights, 1.0
        )
    return out


def viterbi(scores: np.ndarray, voiced: np.ndarray, penalty: float) -> np.ndarray:
    """The best voice per frame given frame log-likelihoods and a price for each change.

    Changing voice costs ``penalty`` inside speech and a tenth of it in a pause, so turns
    are not cut into flickers and changes fall in the pauses where they usually are.
    """
    k, n = scores.shape
    emissions = np.where(voiced, scores, 0.0)
    back = np.zeros((n, k), dtype=np.int8)
    total = emissions[:, 0].copy()
    for t in range(1, n):
        cost = penalty if voiced[t] else penalty / 10
        stay = total
        switch = total.max() - cost
        origin = int(total.argmax())
        keep = stay >= switch
        back[t] = np.where(keep, np.arange(k), origin)
        total = np.where(keep, stay, switch) + emissions[:, t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(total.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=0, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=0, keepdims=True)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 (a voice may vanish in resegmentation)."""
    out = labels.copy()
    for new, old in enumerate(lab for lab in np.unique(labels) if lab >= 0):
        out[labels == old] = new
    return out


def _first_speaker_first(
    labels: np.ndarray, confidence: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Renumber voices by their first frame, so label 0 speaks first."""
    order: list[int] = []
    for lab in labels[labels >= 0]:
        if int(lab) not in order:
            order.append(int(lab))
    out = labels.copy()
    for new, old in enumerate(order):
        out[labels == old] = new
    return out, confidence


def _turns(labels: np.ndarray, confidence: np.ndarray, duration: float) -> tuple[SpeakerTurn, ...]:
    turns = []
    edges = np.flatnonzero(np.diff(labels.astype(np.int16), prepend=-2, append=-2))
    for a, b in itertools.pairwise(edges):
        if labels[a] < 0:
            continue
        turns.append(
            SpeakerTurn(
                start=round(a * FRAME_STEP_S, 3),
                end=round(min(b * FRAME_STEP_S, duration), 3),
                label=int(labels[a]),
                confidence=round(float(confidence[a:b].mean()), 3),
            )
        )
    return tuple(turns)


def pitch(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Fundamental frequency (Hz) every FRAME_STEP_S; NaN where the frame is not voiced.

    Autocorrelation over 40 ms frames (computed by FFT), searched between 60 and 400 Hz;
    a frame is voiced when its normalised autocorrelation peak reaches VOICING.
    """
    hop, length = round(FRAME_STEP_S * sample_rate), round(0.04 * sample_rate)
    signal = np.asarray(samples, dtype=np.float64)
    n_frames = max(0, 1 + (len(signal) - round(0.025 * sample_rate)) // hop)
    padded = np.pad(signal, (0, max(0, (n_frames - 1) * hop + length - len(signal))))
    out = np.full(n_frames, np.nan)
    low, high = int(sample_rate / 400), int(sample_rate / 60)
    for first in range(0, n_frames, 2000):  # in blocks: bounded memory on long calls
        index = np.arange(first, min(n_frames, first + 2000))
        frames = np.lib.stride_tricks.sliding_window_view(padded, length)[index * hop]
        frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(length)
        spectrum = np.fft.rfft(frames, 2 * length, axis=1)
        corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : high + 1]
        energy = corr[:, :1]
        norm = np.where(energy > 1e-10, corr / np.maximum(energy, 1e-10), 0.0)
        lag = low + norm[:, low : high + 1].argmax(axis=1)
        peak = norm[np.arange(len(index)), lag]
        out[index] = np.where(peak >= VOICING, sample_rate / lag, np.nan)
    return out


# -- from voices to agent and customer ----------------------------------------------------


@dataclass(frozen=True)
class VoiceTag:
    """The voice a segment was heard in (None: no speech frame under it)."""

    label: int | None
    confidence: float


def split_by_voice(
    raw: RawTranscript, diarization: Diarization
) -> tuple[RawTranscript, tuple[VoiceTag, ...]]:
    """Cut each segment where the voice changes between words; tag each piece.

    Memory only, like every raw record: the pieces stay ``unknown`` until
    :func:`label_speakers` names them after redaction.
    """
    segments: list[RawSegment] = []
    tags: list[VoiceTag] = []
    for segment in raw.segments:
        if not segment.words:
            label, confidence = diarization.label_of(segment.start, segment.end)
            segments.append(segment)
            tags.append(VoiceTag(label, confidence))
            continue
        group: list[Word] = []
        group_label: int | None = None
        for word in segment.words:
            label, _ = diarization.label_of(word.start, word.end)
            label = group_label if label is None else label
            if group and label != group_label:
                segments.append(_piece(segment, group))
                tags.append(VoiceTag(group_label, diarization.label_of(*_span(group))[1]))
                group = []
            group.append(word)
            group_label = label
        segments.append(_piece(segment, group))
        tags.append(VoiceTag(group_label, diarization.label_of(*_span(group))[1]))
    return replace(raw, segments=tuple(segments)), tuple(tags)


def _span(words: Sequence[Word]) -> tuple[float, float]:
    return words[0].start, words[-1].end


def _piece(segment: RawSegment, words: Sequence[Word]) -> RawSegment:
    return RawSegment(
        speaker=segment.speaker,
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(w.text for w in words),
        words=tuple(words),
    )


SIDE_DATA_DIR = Path(__file__).parent / "data" / "diarize"

# Evidence that a voice is the agent's (> 0) or the customer's (< 0), in "nats" of the
# side's confidence (1 − e^(−margin)). The pick-up formulas and the name in the opening
# weigh most; greeting and closing words little (callers say hello and goodbye too);
# speaking first is a weak hint (outbound calls and "Hello?" callers speak first).
CUE_WEIGHTS = {
    "agent_identified": 2.0,
    "agent_company": 2.0,
    "agent_offer": 1.5,
    "customer_request": -1.5,
    "addresses_other": 2.0,  # scaled by (your − my) / (your + my + 1), in −1..1
    "asks_more": 1.0,  # scaled by (own − other's questions) / (own + other's + 1)
    "empathy": 0.75,  # "I understand", "je suis désolée" (analytics/data/quality)
    "hold": 0.75,  # "one moment please", "je vais vérifier"
    "greeting": 0.5,
    "closing": 0.5,
    "speaks_first": 0.75,
}
SIDE_LISTS = ("agent_offer", "agent_company", "customer_request")
PHRASE_CAP = 2  # a list counts at most this many distinct phrases of one voice


@dataclass(frozen=True)
class SideLexicon:
    """The side phrases of a language (``analytics/data/diarize/side_<lang>.toml``)."""

    phrases: Mapping[str, re.Pattern[str] | None]
    yours: re.Pattern[str] | None
    mine: re.Pattern[str] | None


@functools.lru_cache(maxsize=8)
def side_lexicon(language: str | None, data_dir: Path = SIDE_DATA_DIR) -> SideLexicon:
    """The side phrases of ``language`` (``fr-FR`` → ``fr``; unknown: every language)."""
    from analytics.config import read_toml
    from analytics.quality import LANGUAGES, _alternation

    code = (language or "").split("-")[0].lower()
    langs = [code] if code in LANGUAGES else list(LANGUAGES)
    lists: dict[str, list[str]] = {name: [] for name in (*SIDE_LISTS, "yours", "mine")}
    for lang in langs:
        path = data_dir / f"side_{lang}.toml"
        if not path.exists():
            continue
        table = read_toml(path, "diarize data")
        for name in lists:
            lists[name] += [str(p) for p in table.get(name, [])]
    return SideLexicon(
        phrases={n: _alternation(lists[n], as_phrases=True) for n in SIDE_LISTS},
        yours=_alternation(lists["yours"], as_phrases=False),
        mine=_alternation(lists["mine"], as_phrases=False),
    )


def _distinct(pattern: re.Pattern[str] | None, texts: Sequence[str]) -> set[str]:
    if pattern is None:
        return set()
    return {m.group(0) for text in texts for m in pattern.finditer(text)}


@dataclass(frozen=True)
class AgentSide:
    """Which voice is the agent, how sure, and the cues each voice showed."""

    label: int | None
    confidence: float
    cues: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    scores: Mapping[int, float] = field(default_factory=dict)
    # P(agent) per voice from the words alone (``scores`` adds the voiceprint, if any).
    text_scores: Mapping[int, float] = field(default_factory=dict)
    voiceprint_used: bool = False


def voice_score(
    segments: Sequence[RedactedSegment],
    transcript: RedactedTranscript,
    lexicons: Any,
    side: SideLexicon,
    config: Any,
) -> tuple[float, tuple[str, ...]]:
    """How much one voice sounds like the agent (CUE_WEIGHTS), and the cues it showed.

    ``speaks_first`` is added by :func:`agent_side`, which sees every voice.
    """
    from analytics import quality
    from analytics.abuse import normalise

    texts = [normalise(s.text) for s in segments]
    found: list[str] = []
    score = 0.0
    for cue in ("greeting", "agent_identified"):
        if quality.says_in_opening(lexicons, cue, segments, config):
            found.append(cue)
            score += CUE_WEIGHTS[cue]
    if quality.says_in_closing(lexicons, segments, transcript, config):
        found.append("closing")
        score += CUE_WEIGHTS["closing"]
    for cue in ("empathy", "hold"):
        if quality.says(lexicons, cue, segments):
            found.append(cue)
            score += CUE_WEIGHTS[cue]
    for cue in SIDE_LISTS:
        hits = len(_distinct(side.phrases[cue], texts))
        if hits:
            found.append(cue)
            score += CUE_WEIGHTS[cue] * min(hits, PHRASE_CAP)
    yours = sum(len(side.yours.findall(t)) for t in texts) if side.yours else 0
    mine = sum(len(side.mine.findall(t)) for t in texts) if side.mine else 0
    if yours != mine:
        found.append("addresses_other" if yours > mine else "speaks_of_own")
        score += CUE_WEIGHTS["addresses_other"] * (yours - mine) / (yours + mine + 1)
    return score, tuple(found)


def agent_side(
    transcript: RedactedTranscript,
    tags: Sequence[VoiceTag],
    quality_config: Any = None,
    voice_logits: Mapping[int, float] | None = None,
) -> AgentSide:
    """The agent's voice, from what each voice says in the redacted transcript.

    Two voices (or more): the learned side classifier (:mod:`analytics.diarize_side`)
    gives P(agent) per voice; the likeliest is the agent, its probability (at most 0.99)
    the side's confidence, and ``scores`` holds every voice's probability. ``cues`` lists
    the hand-weighted cues each voice showed (:func:`voice_score`, for the logs). A call
    with one voice is the agent's only when that voice greets, introduces itself or uses
    the agent's formulas, and none of a caller's.

    ``voice_logits`` (two voices: :func:`analytics.voiceprint.voice_logits`, the agent's
    voiceprint from their other calls) add their log-odds to the classifier's.
    """
    from analytics import quality

    config = quality_config or quality.QualityConfig.default()
    lexicons = quality.lexicons_for(config, transcript.language)
    side = side_lexicon(transcript.language)
    by_voice: dict[int, list[RedactedSegment]] = {}
    for seg, tag in zip(transcript.segments, tags, strict=True):
        if tag.label is not None:
            by_voice.setdefault(tag.label, []).append(seg)
    if not by_voice:
        return AgentSide(None, 0.0)
    first = min(by_voice, key=lambda lab: min(s.start for s in by_voice[lab]))
    questions = {lab: sum(s.text.count("?") for s in segs) for lab, segs in by_voice.items()}
    scores: dict[int, float] = {}
    cues: dict[int, tuple[str, ...]] = {}
    for label, segs in by_voice.items():
        score, found = voice_score(segs, transcript, lexicons, side, config)
        if label == first and len(by_voice) > 1:
            found += ("speaks_first",)
            score += CUE_WEIGHTS["speaks_first"]
        # The agent asks the questions (what happened, the contract number, anything else).
        own = questions[label]
        other = max((q for lab, q in questions.items() if lab != label), default=own)
        if own > other:
            found += ("asks_more",)
        score += CUE_WEIGHTS["asks_more"] * (own - other) / (own + other + 1)
        cues[label], scores[label] = found, round(score, 3)
    if len(by_voice) == 1:
        # One voice: the agent's only with the agent's words and none of a caller's (a
        # two-party call the separation could not split must not all become "agent").
        (best,) = by_voice
        agentish = {"greeting", "agent_identified", "agent_company", "agent_offer"}
        callerish = {"customer_request", "speaks_of_own"}
        named = (
            bool(agentish & set(cues[best]))
            and not callerish & set(cues[best])
            and scores[best] >= CUE_WEIGHTS["greeting"]
        )
        others = [lab for lab in voice_logits or {} if lab != best]
        if voice_logits and best in voice_logits and others:
            # Two voices, only one with words: the voiceprint says which one is whose.
            from analytics.voiceprint import combine

            p = combine({best: 0.9 if named else 0.5}, voice_logits)[best]
            label, confidence = (best, p) if p >= 0.5 else (others[0], 1.0 - p)
            voice_p = {best: round(p, 3), others[0]: round(1.0 - p, 3)}
            # No word probabilities (text_scores empty): a side the voice chose never enrols.
            return AgentSide(label, round(min(0.99, confidence), 3), cues, voice_p, {}, True)
        return AgentSide(best if named else None, 0.9 if named else 0.0, cues, scores)
    # Two voices (or more): the learned classifier over turn-level features.
    features = diarize_side.voice_features(by_voice, transcript, config)
    text_p = diarize_side.side_model().probabilities(features)
    agent_p = text_p
    used = bool(voice_logits) and set(voice_logits or {}) >= set(text_p)
    if used:
        from analytics.voiceprint import combine

        agent_p = combine(text_p, voice_logits or {})
    best = max(agent_p, key=lambda lab: (agent_p[lab], -lab))
    return AgentSide(
        best,
        round(min(0.99, agent_p[best]), 3),
        cues,
        {lab: round(p, 3) for lab, p in agent_p.items()},
        {lab: round(p, 3) for lab, p in text_p.items()},
        used,
    )


def label_speakers(
    transcript: RedactedTranscript,
    tags: Sequence[VoiceTag],
    diarization: Diarization,
    config: DiarizeConfig | None = None,
    quality_config: Any = None,
) -> tuple[RedactedTranscript, SpeechActivity]:
    """:func:`name_voices` without the voiceprint, and without the side it found."""
    named, activity, _side = name_voices(transcript, tags, diarization, config, quality_config)
    return named, activity


def name_voices(
    transcript: RedactedTranscript,
    tags: Sequence[VoiceTag],
    diarization: Diarization,
    config: DiarizeConfig | None = None,
    quality_config: Any = None,
    voice_logits: Mapping[int, float] | None = None,
) -> tuple[RedactedTranscript, SpeechActivity, AgentSide]:
    """Name the voices: the agent's voice ``agent``, the others ``customer``.

    A segment keeps ``unknown`` when its confidence (voice confidence × side confidence)
    is below ``min_confidence``; the confidence is stored either way. The speech
    activity per speaker follows the same rule, turn by turn, so quality figures count
    only what was attributed.
    """
    config = config or DiarizeConfig()
    side = agent_side(transcript, tags, quality_config, voice_logits)
    unsure_split = (
        diarization.separation < config.min_named_separation
        and side.confidence < config.weak_split_side_confidence
        if diarization.speakers > 1
        else diarization.separation > config.max_one_voice_separation
    )
    if unsure_split:
        side = replace(side, label=None, confidence=0.0)  # the voices themselves are unsure

    def name(label: int | None, voice_confidence: float) -> tuple[Speaker, float]:
        if label is None or side.label is None:
            return "unknown", 0.0
        confidence = round(voice_confidence * side.confidence, 3)
        if confidence < config.min_confidence:
            return "unknown", confidence
        return ("agent" if label == side.label else "customer"), confidence

    segments = []
    for seg, tag in zip(transcript.segments, tags, strict=True):
        speaker, confidence = name(tag.label, tag.confidence)
        segments.append(replace(seg, speaker=speaker, speaker_confidence=confidence))
    intervals: dict[Speaker, list[Interval]] = {"agent": [], "customer": [], "unknown": []}
    for turn in diarization.turns:
        speaker, _ = name(turn.label, turn.confidence)
        intervals[speaker].append((turn.start, turn.end))
    logger.info(
        "call %s: %d voices, agent voice %s (confidence %.2f, cues %s, scores %s, "
        "from the words %s, voiceprint %s)",
        transcript.call_id,
        diarization.speakers,
        side.label,
        side.confidence,
        dict(side.cues),
        dict(side.scores),
        dict(side.text_scores),
        "used" if side.voiceprint_used else "not used",
    )
    activity = SpeechActivity(
        duration_s=diarization.duration_s,
        intervals={spk: tuple(iv) for spk, iv in intervals.items() if iv},
    )
    return replace(transcript, segments=tuple(segments)), activity, side
