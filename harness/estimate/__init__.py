"""Training-time estimates: the proxy's measured step time (``proxy``) and the target model's FLOPs
at an assumed MFU on named devices (``flops``)."""
