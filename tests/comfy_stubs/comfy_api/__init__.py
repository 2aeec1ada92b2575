"""Test stand-in for ComfyUI's ``comfy_api`` package (see tests/comfy_stubs/README.md)."""
