"""A recall corpus in the styles of timm and torchvision: each class holds one realistic mistake."""
