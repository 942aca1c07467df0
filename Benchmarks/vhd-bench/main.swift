import VHD
