"""The library's bridges to other SNN tools: recorders for snnTorch, Norse and SpikingJelly models
(``recorders``) and the NIR export (``nir_export``). Core layer: imports only the core."""
