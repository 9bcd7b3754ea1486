module fluxchaos.local/registry-liar

go 1.22
