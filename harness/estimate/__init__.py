"""Training-time estimates: the proxy's measured step time (``proxy``), the target model's FLOPs at an
assumed MFU on named devices (``flops``), and ``harness estimate``'s count of the built architecture
(``architecture``, ``counting``), memory per GPU (``memory``), device table (``devices``) and rows
(``training``)."""
