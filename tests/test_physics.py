"""Physics of the simulator, checked against formulas and an independent library."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest
from helpers import PointScatterer

from uspd.config import SimulationConfig
from uspd.physics import air_absorption_db_per_m, doppler_shift_hz, speed_of_sound_m_s
from uspd.sim.device import Device, Hardware
from uspd.sim.render import Propagation, render_baseband
from uspd.sim.room import Room, material_absorption
from uspd.sim.scene import Scene, SceneError

QUIET = SimulationConfig(noise=False)


@pytest.mark.parametrize(
    ("frequency_hz", "humidity_pct", "expected_db_per_m"),
    [(20e3, 50, 0.52), (32e3, 50, 1.02), (40e3, 50, 1.32), (40e3, 20, 0.78)],
)
def test_air_absorption_matches_iso_9613_reference_values(frequency_hz, humidity_pct, expected_db_per_m):
    assert air_absorption_db_per_m(frequency_hz, 20.0, humidity_pct) == pytest.approx(expected_db_per_m, abs=0.01)


def test_speed_of_sound_rises_with_temperature():
    assert speed_of_sound_m_s(0.0) == pytest.approx(331.3)
    assert speed_of_sound_m_s(20.0) == pytest.approx(343.42)


def _dominant_doppler_hz(baseband: np.ndarray, rate_hz: float) -> tuple[float, float]:
    """Strongest non-static component of one channel and the FFT bin width."""
    x = baseband - baseband.mean()
    spectrum = np.abs(np.fft.fft(x * np.hanning(len(x))))
    freqs = np.fft.fftfreq(len(x), 1.0 / rate_hz)
    return float(freqs[np.argmax(spectrum)]), rate_hz / len(x)


@pytest.mark.parametrize("speed_m_s", [0.5, 1.5, -2.0])
def test_radial_motion_lands_at_two_v_f0_over_c_within_one_bin(speed_m_s):
    room = Room((6.0, 5.0, 2.7))
    device = Device((0.3, 2.5, 1.0), array="single")
    # towards the device (positive speed) along the speaker's axis, at the height of the mic
    mover = PointScatterer(start_m=(3.5, 2.5, 1.0), velocity_m_s=(-speed_m_s, 0.0, 0.0))
    scene = Scene(room, device, carrier_hz=32000.0, duration_s=1.0, movers=(mover,))
    rendered = render_baseband(scene, SimulationConfig(noise=False, max_order_moving=0))
    measured, bin_hz = _dominant_doppler_hz(rendered.signal[0], rendered.sample_rate_hz)
    expected = doppler_shift_hz(speed_m_s, 32000.0, scene.speed_of_sound_m_s)
    assert abs(measured - expected) <= bin_hz


def test_bistatic_doppler_follows_the_two_legs_not_the_monostatic_formula():
    """Laptop: speaker 20 cm below the mics; a hand passes close by, sideways and down."""
    room = Room((5.0, 4.0, 2.7))
    device = Device((0.3, 2.0, 1.0), array="laptop_2")
    start, velocity = np.array([0.6, 1.7, 0.95]), np.array([0.0, 1.2, -0.6])
    mover = PointScatterer(start_m=tuple(start), velocity_m_s=tuple(velocity))
    scene = Scene(room, device, carrier_hz=40000.0, duration_s=0.5, movers=(mover,))
    static = render_baseband(Scene(room, device, carrier_hz=40000.0, duration_s=0.5), QUIET).signal[0]
    moving = render_baseband(scene, SimulationConfig(noise=False, max_order_moving=0)).signal[0] - static
    phase = np.unwrap(np.angle(moving.astype(np.complex128)))
    mid_sample = len(phase) // 2
    measured = (phase[mid_sample + 1] - phase[mid_sample - 1]) / (2 / 3000.0) / (2 * np.pi)

    mid = start + velocity * mid_sample / 3000.0
    to_speaker = device.speaker_position_m - mid
    to_mic = device.mic_positions_m[0] - mid
    rate_of_path = -velocity @ (to_speaker / np.linalg.norm(to_speaker) + to_mic / np.linalg.norm(to_mic))
    bistatic = -rate_of_path * 40000.0 / scene.speed_of_sound_m_s
    to_centre = np.asarray(device.position_m) - mid
    monostatic = 2 * (velocity @ to_centre / np.linalg.norm(to_centre)) * 40000.0 / scene.speed_of_sound_m_s
    assert measured == pytest.approx(bistatic, abs=0.5)  # instantaneous frequency, Hz
    assert abs(bistatic - monostatic) > 5.0  # the geometry matters here


def test_image_sources_match_pyroomacoustics_positions_and_count():
    size = np.array([5.0, 4.0, 2.7])
    source = np.array([1.2, 3.1, 0.9])
    table = Room(tuple(size)).images(2, 32000.0)
    ours = table.positions(source)
    assert len(table) == 1 + 6 + 18  # orders 0, 1, 2 of a 3-D shoebox

    pra_room = pra.ShoeBox(size, fs=16000, max_order=2)
    pra_room.add_source(source)
    pra_room.add_microphone([2.0, 2.0, 1.0])  # pyroomacoustics needs one to build images
    pra_room.image_source_model()
    theirs = pra_room.sources[0].images.T
    assert len(theirs) == len(ours)
    distance = np.linalg.norm(ours[:, None, :] - theirs[None, :, :], axis=-1)
    assert distance.min(axis=1).max() < 1e-6  # pyroomacoustics works in float32
    assert np.array_equal(np.sort(table.order), np.sort(pra_room.sources[0].orders))


def test_first_order_images_carry_the_wall_reflection_gain():
    room = Room((5.0, 4.0, 2.7), wall_materials=("plaster", "glass", "wood", "curtain", "carpet", "concrete"))
    table = room.images(1, 32000.0)
    point = np.array([1.0, 1.5, 1.0])
    images = table.positions(point)
    expected = {  # image position → the wall it reflects off
        (-1.0, 1.5, 1.0): "plaster", (9.0, 1.5, 1.0): "glass", (1.0, -1.5, 1.0): "wood",
        (1.0, 6.5, 1.0): "curtain", (1.0, 1.5, -1.0): "carpet", (1.0, 1.5, 4.4): "concrete",
    }
    for image, gain in zip(images[1:], table.gain[1:]):
        material = expected[tuple(np.round(image, 6))]
        assert gain == pytest.approx(np.sqrt(1 - material_absorption(material, 32000.0)))


def test_static_impulse_response_has_a_peak_at_every_first_order_delay():
    room = Room((6.0, 5.0, 3.0), wall_materials=("glass",) * 6)
    device = Device((1.5, 2.0, 1.2), array="single")
    scene = Scene(room, device, carrier_hz=32000.0, duration_s=0.1)
    prop = Propagation(scene, SimulationConfig(max_order_static=1))
    rate = 96000.0  # fine grid so distinct delays separate
    n = 4096
    response = prop.static_response(np.fft.fftfreq(n, 1 / rate))[0]
    impulse = np.abs(np.fft.ifft(response))
    mic = device.mic_positions_m[0]
    images = room.images(1, 32000.0).positions(device.speaker_position_m)
    delays = np.linalg.norm(images - mic, axis=-1) / scene.speed_of_sound_m_s
    for delay in delays:
        k = int(round(delay * rate))
        neighbourhood = impulse[k - 2 : k + 3].max()
        assert neighbourhood > 20 * np.median(impulse), f"no echo at {delay * 1e3:.2f} ms"


def test_fast_blade_tip_does_not_alias_into_the_band():
    """A 2.6 kHz Doppler at a 3 kHz baseband would alias to −400 Hz without the filter."""

    def moving_power(doppler_hz: float) -> float:
        speed = doppler_hz * speed_of_sound_m_s(21.0) / (2 * 32000.0)
        mover = PointScatterer(start_m=(4.5, 2.0, 1.0), velocity_m_s=(-speed, 0.0, 0.0))
        scene = Scene(Room((5.0, 4.0, 2.7)), Device((0.3, 2.0, 1.0), array="single"), 32000.0, 0.25, movers=(mover,))
        x = render_baseband(scene, SimulationConfig(noise=False, max_order_moving=0)).signal[0]
        return float(np.mean(np.abs(x[50:-50] - x.mean()) ** 2))

    assert moving_power(2600.0) < 1e-3 * moving_power(400.0)


def test_rendering_in_blocks_equals_rendering_at_once():
    room = Room((5.0, 4.0, 2.7))
    mover = PointScatterer(start_m=(3.0, 1.0, 1.2), velocity_m_s=(-0.8, 0.6, 0.0))
    scene = Scene(room, Device((0.3, 2.0, 1.0)), carrier_hz=32000.0, duration_s=1.0, movers=(mover,))
    whole = render_baseband(scene, SimulationConfig(chunk_s=1.0)).signal
    blocks = render_baseband(scene, SimulationConfig(chunk_s=0.37, noise=False)).signal
    quiet = render_baseband(scene, SimulationConfig(chunk_s=1.0, noise=False)).signal
    assert np.abs(blocks - quiet).max() <= 1e-5 * np.abs(quiet).max()
    again = render_baseband(scene, SimulationConfig(chunk_s=1.0)).signal
    assert np.array_equal(whole, again)  # same seed → identical, noise included


def test_device_outside_the_room_is_refused_with_a_clear_message():
    with pytest.raises(SceneError, match="outside the room"):
        Scene(Room((4.0, 4.0, 2.5)), Device((5.0, 1.0, 1.0)), carrier_hz=32000.0, duration_s=1.0)


def test_sample_rate_below_twice_the_carrier_is_refused():
    device = Device((1.0, 1.0, 1.0), hardware=Hardware(sample_rate_hz=48000))
    with pytest.raises(SceneError, match="too low for a 32000 Hz carrier"):
        Scene(Room((4.0, 4.0, 2.5)), device, carrier_hz=32000.0, duration_s=1.0)


def test_unit_to_unit_spread_changes_the_ultrasonic_response_by_several_db():
    rng = np.random.default_rng(0)
    units = [Hardware.sample(rng, n_mics=7) for _ in range(50)]
    level_db = [20 * np.log10(abs(u.tone_pressure_pa(0.0, 32000.0))) for u in units]
    assert np.ptp(level_db) > 6.0
    nominal = Hardware()
    assert 20 * np.log10(abs(nominal.speaker_response(40000.0))) < -12.0  # steep roll-off above 20 kHz
    assert 20 * np.log10(abs(nominal.speaker_response(20000.0))) > 0.0  # near the resonance


@pytest.mark.parametrize("speed_m_s", [0.05, 0.3, 1.5])
def test_slow_scatterers_on_a_coarse_grid_match_full_rate_evaluation(speed_m_s, monkeypatch):
    import uspd.sim.render as render

    mover = PointScatterer(start_m=(3.0, 1.0, 1.2), velocity_m_s=(-speed_m_s, speed_m_s / 2, 0.0))
    scene = Scene(Room((5.0, 4.0, 2.7)), Device((0.3, 2.0, 1.0)), carrier_hz=32000.0, duration_s=1.5, movers=(mover,))
    static = render_baseband(Scene(scene.room, scene.device, 32000.0, 1.5), QUIET).signal
    coarse = render_baseband(scene, QUIET).signal - static
    monkeypatch.setattr(render, "_decimation", lambda *_: 1)
    full = render_baseband(scene, QUIET).signal - static
    # float32 path phases differ by ~1e-3 rad between the two grids: −46 dB is that floor
    assert np.sqrt(np.mean(np.abs(coarse - full) ** 2)) < 5e-3 * np.sqrt(np.mean(np.abs(full) ** 2))


def _smart_speaker_scene(movers=()) -> Scene:
    room = Room((6.0, 4.5, 2.8), wall_materials=("plaster", "glass", "wood", "curtain", "carpet", "concrete"))
    return Scene(room, Device((0.4, 2.2, 1.0), array="smart_speaker_7"), 32000.0, 1.0, movers=movers)


@pytest.mark.parametrize("hardware", [Hardware(), Hardware.sample(np.random.default_rng(3), n_mics=7)])
def test_float32_field_of_scatterers_matches_float64_paths(hardware):
    """The fast renderer's paths (distances as one product about the device, a tabulated
    speaker pattern) against every path summed in float64, anywhere in the room."""
    room = Room((6.0, 4.5, 2.8), wall_materials=("plaster", "glass", "wood", "curtain", "carpet", "concrete"))
    device = Device((0.4, 2.2, 1.0), array="smart_speaker_7", hardware=hardware)
    prop = Propagation(Scene(room, device, 32000.0, 1.0), SimulationConfig())
    rng = np.random.default_rng(0)
    positions = rng.uniform((0.1, 0.1, 0.1), (5.9, 4.4, 2.7), size=(3, 400, 3))
    sigma = rng.uniform(0.001, 0.05, size=(3, 400))
    fast = prop.scatterers_field(positions, sigma, np.arange(400) / 3000.0, None)
    exact, incoherent = 0, 0
    for pos, s in zip(positions, sigma):
        length, amplitude = prop.scatterer_paths(pos, s)
        exact = exact + np.sum(amplitude * np.exp(-1j * prop.wavenumber * length), axis=1)
        incoherent = incoherent + np.sum(amplitude, axis=1)
    error = np.abs(fast - exact)
    assert np.sqrt(np.mean(error**2) / np.mean(np.abs(exact) ** 2)) < 1e-4  # the old renderer: 8e-5
    assert np.max(error / incoherent) < 2e-4  # even where the paths cancel


def test_scatterers_re_radiate_the_envelope_delayed_along_the_direct_path():
    prop = Propagation(_smart_speaker_scene(), SimulationConfig())
    rng = np.random.default_rng(2)
    positions = rng.uniform((0.5, 0.5, 0.3), (5.5, 4.0, 2.5), size=(2, 300, 3))
    sigma = rng.uniform(0.001, 0.05, size=(2, 300))
    t_s = np.arange(300) / 3000.0

    def envelope(t):
        return 1.0 + 0.5 * np.exp(2j * np.pi * 700.0 * t)

    direct_m = (np.linalg.norm(positions - prop.speaker_m, axis=-1)
                + np.linalg.norm(positions - prop.mics_m[0], axis=-1))
    delayed = envelope(t_s - direct_m / prop.c_m_s)  # (S, T)
    expected = sum(prop.scatterers_field(p[None], s[None], t_s, None) * d for p, s, d in zip(positions, sigma, delayed))
    field = prop.scatterers_field(positions, sigma, t_s, envelope)
    assert np.abs(field - expected).max() < 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("hardware", [Hardware(), Hardware.sample(np.random.default_rng(5), n_mics=7)])
def test_tabulated_speaker_pattern_is_within_its_stated_bound(hardware):
    device = Device((0.4, 2.2, 1.0), array="smart_speaker_7", hardware=hardware)
    prop = Propagation(Scene(Room((6.0, 4.5, 2.8)), device, 32000.0, 1.0), SimulationConfig())
    rng = np.random.default_rng(1)
    cos_theta = np.concatenate([rng.uniform(-1, 1, 200_000), [-1.0, 1.0]]).astype(np.float32)
    exact = hardware.speaker_directivity(cos_theta.astype(float), 32000.0, prop.c_m_s)
    error = np.abs(prop._directivity(cos_theta.copy()) - exact) / exact
    assert error.max() < 3e-4
    assert np.mean(error > 1e-6) < 1e-3  # only next to the pattern's kinks


def test_scatterers_sharing_a_grid_add_like_separate_scenes():
    """Scatterers on the same decimation grid are evaluated and resampled together."""
    slow = PointScatterer(start_m=(3.0, 1.0, 1.2), velocity_m_s=(0.1, 0.05, 0.0))
    also_slow = PointScatterer(start_m=(2.0, 3.5, 0.8), velocity_m_s=(-0.08, 0.0, 0.02))
    fast = PointScatterer(start_m=(4.5, 2.0, 1.0), velocity_m_s=(-1.2, 0.3, 0.0))
    static = render_baseband(_smart_speaker_scene(), QUIET).signal
    together = render_baseband(_smart_speaker_scene((slow, also_slow, fast)), QUIET).signal - static
    apart = sum(render_baseband(_smart_speaker_scene((m,)), QUIET).signal - static for m in (slow, also_slow, fast))
    assert np.abs(together - apart).max() < 1e-4 * np.abs(together).max()


def test_static_response_matches_the_complex_exponential_sum():
    prop = Propagation(_smart_speaker_scene(), SimulationConfig())
    offsets = np.fft.fftfreq(256, 1 / 3000.0)
    length, amplitude = prop.static_paths
    phase = -2j * np.pi * (prop.carrier_hz + offsets) * (length[..., None] / prop.c_m_s)
    exact = np.einsum("kp,kpf->kf", amplitude, np.exp(phase)) * (prop.tone_pa * prop.mic_gain)[:, None]
    response = prop.static_response(offsets)
    assert np.abs(response - exact).max() < 1e-6 * np.abs(exact).max()


def test_a_window_of_a_scene_equals_the_same_samples_of_the_whole_render():
    """Windows start and end mid-block; noise is drawn per fixed absolute block, so it agrees too."""
    from uspd.sim.render import iter_baseband
    from uspd.sim.scenarios import build_scene

    scene = build_scene("walk_in", 3, duration_s=6.0, array="smart_speaker_7", sample_rate_hz=96000)
    config = SimulationConfig()  # noise on
    rate = config.baseband_rate_hz
    whole = render_baseband(scene, config).signal
    window = render_baseband(scene, config, start_s=2.3, stop_s=4.1)
    assert window.start_s == pytest.approx(2.3)
    expected = whole[:, round(2.3 * rate) : round(4.1 * rate)]
    assert window.signal.shape == expected.shape
    np.testing.assert_allclose(window.signal, expected, rtol=0, atol=1e-6 * np.abs(whole).max())
    blocks = list(iter_baseband(scene, config, start_s=2.3, stop_s=4.1))
    assert [b.start_s for b in blocks] == pytest.approx([2.3, 3.0, 4.0])  # cut to the window, on the absolute grid
    tail = render_baseband(scene, config, start_s=5.5)
    np.testing.assert_allclose(tail.signal, whole[:, round(5.5 * rate) :], rtol=0, atol=1e-6 * np.abs(whole).max())


def test_a_passband_window_equals_the_same_samples_of_the_whole_render():
    from uspd.sim.render import render_passband
    from uspd.sim.scenarios import build_scene

    scene = build_scene("walk_in", 3, duration_s=1.5, array="laptop_2", sample_rate_hz=96000)
    config = SimulationConfig(chunk_s=0.5)
    whole = render_passband(scene, config).signal
    window = render_passband(scene, config, start_s=0.3, stop_s=1.2)
    assert window.start_s == pytest.approx(0.3)
    lsb = 2.0 / 2**scene.device.hardware.adc_bits
    np.testing.assert_allclose(window.signal, whole[:, 28800:115200], rtol=0, atol=1.01 * lsb)


@pytest.mark.parametrize(("start_s", "stop_s"), [(-0.1, None), (0.5, 0.5), (0.6, 0.2), (0.0, 1.1), (1.0, None)])
def test_a_window_outside_the_scene_is_refused_with_a_clear_message(start_s, stop_s):
    scene = Scene(Room((5.0, 4.0, 2.7)), Device((0.3, 2.0, 1.0)), carrier_hz=32000.0, duration_s=1.0)
    with pytest.raises(ValueError, match="render window"):
        render_baseband(scene, QUIET, start_s=start_s, stop_s=stop_s)
