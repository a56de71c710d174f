# A script with a mistake of its own on line 7: the runner names it.
import sys, os
sys.path.append(os.pardir)
from dataset.mnist import load_mnist

(x_train, t_train), (x_test, t_test) = load_mnist()
x_train.no_such_method()
