"""A precision corpus in the styles of timm and torchvision: code `torch.jit.script` accepts."""
