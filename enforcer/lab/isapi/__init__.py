"""A simulated Hikvision/Annke device speaking ISAPI (protocols/hikvision-isapi.md): the request
handler (:mod:`.device`) and its resources, one module per area."""
