import CKVM
