"""The GenICam side of a GigE source: load Aravis, list cameras, write the configured features, each checked
first against what the camera accepts (range, increment, choices, access), so that a wrong setting names the
feature and what the camera takes instead of failing inside the camera."""

from __future__ import annotations

import logging
from typing import Any

from edge_agent.config.sources import FeatureValue, GigESource
from edge_agent.errors import SourceError
from edge_agent.sources.genicam_pixels import PIXEL_FORMATS

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install Aravis and PyGObject for GigE cameras: apt-get install gir1.2-aravis-0.8 libgirepository1.0-dev "
    "libcairo2-dev pkg-config, then pip install 'factoryloop[gige]'"
)


def load_aravis() -> tuple[Any, Any]:
    """``(Aravis, GLib)`` from ``gi.repository``; :class:`SourceError` saying what to install if missing."""
    try:
        import gi
    except ImportError as exc:
        raise SourceError(f"PyGObject (gi) is not installed in this Python: {INSTALL_HINT}") from exc
    try:
        gi.require_version("Aravis", "0.8")
        from gi.repository import Aravis, GLib
    except (ValueError, ImportError) as exc:
        raise SourceError(f"the Aravis 0.8 typelib is missing ({exc}): {INSTALL_HINT}") from exc
    return Aravis, GLib


def list_cameras(aravis: Any) -> list[str]:
    """The cameras Aravis finds now, as ``id (address, vendor model)`` lines."""
    aravis.update_device_list()
    return [
        f"{aravis.get_device_id(i)} ({aravis.get_device_address(i)}, "
        f"{aravis.get_device_vendor(i)} {aravis.get_device_model(i)})"
        for i in range(aravis.get_n_devices())
    ]


class CameraFeatures:
    """Writes a :class:`GigESource`'s settings to an open ``Aravis.Camera``; each failure: SourceError."""

    def __init__(self, aravis: Any, glib: Any, camera: Any, name: str) -> None:
        self.arv, self.glib, self.camera, self.name = aravis, glib, camera, name
        self.device = camera.get_device()

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self.glib.Error as exc:
            raise SourceError(f"{self.name}: {what} failed: {exc.message}") from exc

    def check_range(self, feature: str, value: float, bounds: Any, unit: str = "") -> None:
        low, high = bounds
        if not low <= value <= high:
            raise SourceError(
                f"{self.name}: {feature} {value:g}{unit} is out of range: the camera accepts "
                f"{low:g}..{high:g}{unit}"
            )

    def configure(self, cfg: GigESource) -> str:
        """Apply ``cfg``; returns the PixelFormat the camera now sends."""
        cam = self.camera
        if cfg.pixel_format is not None:
            offered = self.call("reading PixelFormat", cam.dup_available_pixel_formats_as_strings)
            if cfg.pixel_format not in offered:
                raise SourceError(
                    f"{self.name}: PixelFormat {cfg.pixel_format} is not offered by the camera; it offers "
                    f"{', '.join(offered)}"
                )
            self.write("PixelFormat", cfg.pixel_format)
        pixel_format: str = self.call("reading PixelFormat", cam.get_pixel_format_as_string)
        if pixel_format not in PIXEL_FORMATS:
            raise SourceError(
                f"{self.name}: the camera's PixelFormat {pixel_format} cannot be converted to BGR; set "
                f"source.pixel_format to one of {', '.join(PIXEL_FORMATS)}"
            )
        if cfg.width is not None or cfg.height is not None or cfg.offset_x or cfg.offset_y:
            _x, _y, width, height = cam.get_region()
            for feature, value in (  # offsets to 0 first: the new size may not fit at the old offsets
                ("OffsetX", 0),
                ("OffsetY", 0),
                ("Width", cfg.width or width),
                ("Height", cfg.height or height),
                ("OffsetX", cfg.offset_x),
                ("OffsetY", cfg.offset_y),
            ):
                if value or self.device.is_feature_available(feature):
                    self.write(feature, value)
        if cam.is_gv_device():
            if cfg.packet_size is None:
                self.call("negotiating the packet size", cam.gv_auto_packet_size)
            else:
                self.write("GevSCPSPacketSize", cfg.packet_size)
        self._trigger(cfg)
        if cfg.exposure_us is not None:
            if cam.is_exposure_auto_available():
                self.call("turning ExposureAuto off", cam.set_exposure_time_auto, self.arv.Auto.OFF)
            self.check_range("ExposureTime", cfg.exposure_us, cam.get_exposure_time_bounds(), " µs")
            self.call("setting ExposureTime", cam.set_exposure_time, cfg.exposure_us)
        if cfg.gain_db is not None:
            if cam.is_gain_auto_available():
                self.call("turning GainAuto off", cam.set_gain_auto, self.arv.Auto.OFF)
            self.check_range("Gain", cfg.gain_db, cam.get_gain_bounds(), " dB")
            self.call("setting Gain", cam.set_gain, cfg.gain_db)
        if cfg.frame_rate is not None and cfg.trigger_mode == "free_run":
            self.check_range("AcquisitionFrameRate", cfg.frame_rate, cam.get_frame_rate_bounds(), " Hz")
            self.call("setting AcquisitionFrameRate", cam.set_frame_rate, cfg.frame_rate)
        for feature, value in cfg.features.items():
            self.write(feature, value)
        return pixel_format

    def _trigger(self, cfg: GigESource) -> None:
        cam = self.camera
        if cfg.trigger_mode == "free_run":
            self.call("turning the triggers off", cam.clear_triggers)
            return
        source = "Software" if cfg.trigger_mode == "software" else cfg.trigger_line
        offered = self.call("reading TriggerSource", cam.dup_available_trigger_sources)
        if source not in offered:
            raise SourceError(
                f"{self.name}: TriggerSource {source} is not offered by the camera; it offers "
                f"{', '.join(offered)}"
            )
        self.call(f"setting the trigger to {source}", cam.set_trigger, source)
        if cfg.trigger_activation is not None:
            self.write("TriggerActivation", cfg.trigger_activation)

    def write(self, feature: str, value: FeatureValue) -> None:
        """Set a GenICam feature after checking that it exists, is writable and accepts ``value``."""
        node = self.device.get_feature(feature)
        if node is None:
            raise SourceError(f"{self.name}: the camera has no feature {feature}")
        if not node.is_implemented() or not node.is_available():
            raise SourceError(f"{self.name}: feature {feature} is not available in the camera's current mode")
        access = node.get_actual_access_mode()
        if access not in (self.arv.GcAccessMode.RW, self.arv.GcAccessMode.WO):
            mode = access.value_nick.upper()
            raise SourceError(f"{self.name}: feature {feature} is not writable (access mode {mode})")
        dev, what = self.device, f"setting {feature} to {value!r}"
        if isinstance(node, self.arv.GcEnumeration):
            choices = self.call(f"reading {feature}", node.dup_available_string_values)
            if str(value) not in choices:
                raise SourceError(f"{self.name}: {feature} {value!r} is not one of {', '.join(choices)}")
            self.call(what, dev.set_string_feature_value, feature, str(value))
        elif isinstance(node, self.arv.GcBoolean):
            self.call(what, dev.set_boolean_feature_value, feature, bool(value))
        elif isinstance(node, self.arv.GcFloat):
            if isinstance(value, str):
                raise SourceError(f"{self.name}: {feature} takes a number, not {value!r}")
            self.check_range(feature, float(value), dev.get_float_feature_bounds(feature))
            self.call(what, dev.set_float_feature_value, feature, float(value))
        elif isinstance(node, self.arv.GcInteger):
            if isinstance(value, str) or int(value) != value:
                raise SourceError(f"{self.name}: {feature} takes an integer, not {value!r}")
            low, high = dev.get_integer_feature_bounds(feature)
            self.check_range(feature, value, (low, high))
            step = self.call(f"reading {feature}", dev.get_integer_feature_increment, feature)
            if step > 1 and (int(value) - low) % step:
                raise SourceError(f"{self.name}: {feature} {value} must be {low} + a multiple of {step}")
            self.call(what, dev.set_integer_feature_value, feature, int(value))
        else:
            self.call(what, dev.set_string_feature_value, feature, str(value))
        logger.debug("%s: %s = %s", self.name, feature, node.get_value_as_string())

    def read(self, feature: str) -> str:
        """A feature's current value as the camera reports it (a string, like arv-tool-0.8 shows it)."""
        node = self.device.get_feature(feature)
        if node is None:
            raise SourceError(f"{self.name}: the camera has no feature {feature}")
        return str(self.call(f"reading {feature}", node.get_value_as_string))

    def readback(self) -> dict[str, Any]:
        """What the camera runs with now: size, format, exposure (µs), gain, trigger, frame rate."""
        cam = self.camera
        _x, _y, width, height = cam.get_region()
        out: dict[str, Any] = {
            "PixelFormat": cam.get_pixel_format_as_string(),
            "Width": width,
            "Height": height,
        }
        if cam.is_exposure_time_available():
            out["ExposureTime"] = cam.get_exposure_time()
        if cam.is_gain_available():
            out["Gain"] = cam.get_gain()
        if cam.is_frame_rate_available():
            out["AcquisitionFrameRate"] = cam.get_frame_rate()
        for feature in ("TriggerMode", "TriggerSource", "TriggerActivation"):
            if self.device.is_feature_available(feature):
                out[feature] = self.read(feature)
        return out
